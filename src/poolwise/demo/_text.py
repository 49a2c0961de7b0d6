"""The demo's words, in English and Korean (the language of the post that inspired poolwise):
titles, claims, column headers, row and chart labels. Verdicts are in ``_verdicts``.

Templates take the measured numbers as keyword arguments; nothing here is a measurement.
Every key has both languages (a test checks), so Korean never falls back to English.
"""

from __future__ import annotations

from typing import Any

LANGS = ("en", "ko")

TEXT: dict[str, dict[str, str]] = {
    "title": {
        "en": "Threads or processes? Measured on this machine",
        "ko": "스레드냐 프로세스냐? 이 컴퓨터에서 직접 측정한 결과",
    },
    "machine": {
        "en": "{cpus} usable CPUs, Python {python}, start method {method}, measured {date}",
        "ko": "사용 가능한 CPU {cpus}개, Python {python}, 시작 방식 {method}, 측정 시각 {date}",
    },
    # section titles
    "s1": {
        "en": "1. Starting and joining two workers",
        "ko": "1. 작업자 두 개를 시작하고 기다리기",
    },
    "s2": {"en": "2. CPU-bound pure Python", "ko": "2. 순수 파이썬 CPU 작업"},
    "s3": {"en": "3. Waiting (I/O-bound)", "ko": "3. 기다리는 작업 (I/O 중심)"},
    "s4": {
        "en": "4. Native code that releases the GIL",
        "ko": "4. GIL을 놓아 주는 네이티브 코드",
    },
    "s5": {"en": "5. Moving data between workers", "ko": "5. 작업자 사이의 데이터 전달 비용"},
    "s6": {"en": "6. Start-up time and memory", "ko": "6. 시작 시간과 메모리"},
    "s7": {"en": "7. Crash isolation", "ko": "7. 장애 격리"},
    "s8": {"en": "8. Race conditions", "ko": "8. 경쟁 상태"},
    "s9": {"en": "9. Deadlocks", "ko": "9. 교착 상태"},
    "s10": {
        "en": "10. The third answer: subinterpreters (Python 3.14)",
        "ko": "10. 세 번째 답: 서브인터프리터 (파이썬 3.14)",
    },
    "s11": {"en": "11. What to choose, from these numbers", "ko": "11. 이 숫자로 본 선택 기준"},
    # claims being tested
    "c1": {
        "en": "Claim: processes cost more to create and manage than threads.",
        "ko": "주장: 프로세스는 스레드보다 만들고 관리하는 비용이 크다.",
    },
    "c2": {
        "en": "Claim: processes run in parallel; threads share one interpreter lock (GIL).",
        "ko": "주장: 프로세스는 병렬로 실행되지만, 스레드는 하나의 인터프리터 락(GIL)을 나눠 쓴다.",
    },
    "c3": {
        "en": "Claim: threads are a light way to do many things at once.",
        "ko": "주장: 스레드는 여러 일을 동시에 하는 가벼운 방법이다.",
    },
    "c4": {
        "en": "Nuance: C code that releases the GIL runs in parallel on threads too.",
        "ko": "보충: GIL을 놓아 주는 C 코드는 스레드에서도 병렬로 실행된다.",
    },
    "c5": {
        "en": "Claim: talking between processes costs extra; threads share memory.",
        "ko": "주장: 프로세스 간 통신에는 추가 비용이 들고, 스레드는 메모리를 공유한다.",
    },
    "c6": {
        "en": "Claim: each process has its own memory space.",
        "ko": "주장: 프로세스마다 독립된 메모리 공간을 가진다.",
    },
    "c7": {
        "en": "Claim: a process that fails does not affect the others.",
        "ko": "주장: 한 프로세스가 실패해도 다른 프로세스에는 영향이 없다.",
    },
    "c8": {
        "en": "Claim: threads sharing data can race and need synchronization.",
        "ko": "주장: 데이터를 공유하는 스레드는 경쟁 상태에 빠질 수 있어 동기화가 필요하다.",
    },
    "c9": {
        "en": "Claim: locks taken in different orders can deadlock.",
        "ko": "주장: 서로 다른 순서로 잡은 락은 교착 상태를 일으킬 수 있다.",
    },
    "c10": {
        "en": "Claim: interpreters of their own (one GIL each) run Python in parallel inside one "
        "process, and move data more cheaply than processes.",
        "ko": "주장: 각자 GIL을 가진 인터프리터는 한 프로세스 안에서 파이썬을 병렬로 실행하고, "
        "프로세스보다 데이터를 싸게 옮긴다.",
    },
    # column headers, row labels, chart labels
    "col_workers": {"en": "workers", "ko": "작업자"},
    "col_start_ms": {"en": "start (ms)", "ko": "시작 (ms)"},
    "col_join_ms": {"en": "join (ms)", "ko": "기다리기 (ms)"},
    "row_threads": {"en": "{n} threads", "ko": "스레드 {n}개"},
    "row_procs": {"en": "{n} processes ({method})", "ko": "프로세스 {n}개 ({method})"},
    "ms": {"en": "ms", "ko": "ms"},
    "start": {"en": "start", "ko": "시작"},
    "join": {"en": "join", "ko": "기다리기"},
    "threads": {"en": "threads", "ko": "스레드"},
    "processes": {"en": "processes", "ko": "프로세스"},
    "processes_pipe": {"en": "processes (pipe)", "ko": "프로세스 (파이프)"},
    "processes_shm": {"en": "processes (shared memory)", "ko": "프로세스 (공유 메모리)"},
    "serial": {"en": "serial", "ko": "순차"},
    "thread": {"en": "thread", "ko": "스레드"},
    "process": {"en": "process", "ko": "프로세스"},
    "col_backend": {"en": "backend", "ko": "실행 방식"},
    "col_seconds": {"en": "seconds", "ko": "초"},
    "col_speedup": {"en": "speed-up", "ko": "속도 향상"},
    "chart_speedup": {"en": "x faster than serial", "ko": "순차 실행 대비 배속"},
    "col_payload": {"en": "payload", "ko": "데이터 크기"},
    "col_thread_ms_item": {"en": "thread ms/item", "ko": "스레드 ms/항목"},
    "col_proc_ms_item": {
        "en": "process ms/item (shared memory)",
        "ko": "프로세스 ms/항목 (공유 메모리)",
    },
    "col_pipe_ms_item": {"en": "process ms/item (pipe)", "ko": "프로세스 ms/항목 (파이프)"},
    "col_gbps_pipe": {"en": "GB/s pipe", "ko": "GB/s 파이프"},
    "col_gbps_shm": {"en": "GB/s shared memory", "ko": "GB/s 공유 메모리"},
    "chart_ms_item": {"en": "ms per item (log)", "ko": "항목당 ms (로그 눈금)"},
    "col_n_workers": {"en": "workers", "ko": "작업자 수"},
    "col_t_start": {"en": "threads: start ms", "ko": "스레드: 시작 ms"},
    "col_t_mb": {"en": "threads: MB", "ko": "스레드: MB"},
    "col_p_start": {"en": "processes: start ms", "ko": "프로세스: 시작 ms"},
    "col_p_mb": {"en": "processes: own MB (USS)", "ko": "프로세스: 고유 MB (USS)"},
    "chart_ms_start": {"en": "ms to start", "ko": "시작까지 ms"},
    "col_fault_where": {"en": "where the fault happened", "ko": "오류가 난 곳"},
    "col_completed": {"en": "tasks completed", "ko": "완료된 작업"},
    "col_program": {"en": "program", "ko": "프로그램"},
    "row_worker_process": {
        "en": "a worker process ({n} tasks)",
        "ko": "작업자 프로세스 (작업 {n}개)",
    },
    "row_thread_child": {
        "en": "a thread (in a child interpreter)",
        "ko": "스레드 (자식 인터프리터에서)",
    },
    "n_of_total": {"en": "{k} of {n}", "ko": "{n}개 중 {k}개"},
    "went_on": {"en": "went on", "ko": "계속 실행됨"},
    "killed": {"en": "killed (exit {code})", "ko": "강제 종료됨 (종료 상태 {code})"},
    "survived": {"en": "survived (exit {code})", "ko": "살아남음 (종료 상태 {code})"},
    "completed": {"en": "completed", "ko": "완료"},
    "col_code": {"en": "code", "ko": "코드"},
    "col_lost": {"en": "updates lost by chance", "ko": "우연히 잃은 갱신"},
    "col_check_races": {"en": "check_races", "ko": "check_races"},
    "row_locked": {"en": "with a lock", "ko": "락을 건 버전"},
    "row_processes": {"en": "processes (4 x 1000 each)", "ko": "프로세스 (각각 1000번씩 4개)"},
    "lost_of": {"en": "{lost} of {total}", "ko": "{total}번 중 {lost}번"},
    "parent_stays": {"en": "parent stays {parent}", "ko": "부모는 {parent} 유지"},
    "chart_lost": {"en": "updates lost", "ko": "잃은 갱신"},
    "lost": {"en": "lost", "ko": "손실"},
    "col_lock_order": {"en": "lock_order", "ko": "lock_order"},
    "row_inversion": {
        "en": "thread 1: A then B; thread 2: B then A (one after the other)",
        "ko": "스레드 1: A 다음 B, 스레드 2: B 다음 A (차례로)",
    },
    "col_guide": {"en": "guide", "ko": "안내"},
    "interpreters": {"en": "interpreters", "ko": "인터프리터"},
    "interpreter": {"en": "interpreter", "ko": "인터프리터"},
    "col_speedup_started": {"en": "speed-up (started pool)", "ko": "속도 향상 (시작된 풀)"},
    "col_first_ms": {"en": "first result (ms)", "ko": "첫 결과 (ms)"},
    "col_move_ms": {"en": "{size} item, there and back (ms)", "ko": "{size} 항목 왕복 (ms)"},
    "dash": {"en": "-", "ko": "-"},
    # cells of a check's result
    "yes": {"en": "found", "ko": "발견"},
    "no": {"en": "nothing found", "ko": "발견 안 됨"},
    "failed": {"en": "failed: {why}", "ko": "실패: {why}"},
    # the command line's own lines
    "report_at": {"en": "report: {path}", "ko": "보고서: {path}"},
    "numbers_at": {"en": "numbers: {path}", "ko": "측정값: {path}"},
    "measured_in": {"en": "measured in {seconds:.0f} s", "ko": "측정에 {seconds:.0f}초 걸림"},
}


def t(key: str, lang: str, **numbers: Any) -> str:
    """The text for ``key`` in ``lang``, with the numbers filled in."""
    return TEXT[key][lang].format(**numbers)
