"""The demo's words, in English and Korean (the language of the post that inspired poolwise).

Templates take the measured numbers as keyword arguments; nothing here is a measurement.
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
    "s10": {"en": "10. What to choose, from these numbers", "ko": "10. 이 숫자로 본 선택 기준"},
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
    # verdicts
    "v1": {
        "en": "Starting two processes took {proc_ms:.1f} ms, two threads {thread_ms:.2f} ms: "
        "about {ratio:.0f}x more. Joining: {pjoin_ms:.1f} ms against {tjoin_ms:.2f} ms.",
        "ko": "프로세스 두 개를 시작하는 데 {proc_ms:.1f} ms, 스레드 두 개는 {thread_ms:.2f} ms: "
        "약 {ratio:.0f}배 차이. 기다리기(join): {pjoin_ms:.1f} ms 대 {tjoin_ms:.2f} ms.",
    },
    "v2": {
        "en": "Processes ran {proc:.1f}x as fast as serial, threads {thread:.1f}x: the GIL lets "
        "one thread run Python at a time, so only processes use the {cpus} CPUs.",
        "ko": "프로세스는 순차 실행보다 {proc:.1f}배, 스레드는 {thread:.1f}배 빨랐다. GIL 때문에 "
        "한 번에 한 스레드만 파이썬을 실행하므로 CPU {cpus}개를 쓰는 것은 프로세스뿐이다.",
    },
    "v3": {
        "en": "{n} waits: {best_thread:.1f}x faster on {tw} threads; processes reached "
        "{best_proc:.1f}x but paid {pstart_ms:.0f} ms to start {pw} of them. Waiting overlaps "
        "beyond the number of CPUs.",
        "ko": "{n}번의 대기: 스레드 {tw}개로 {best_thread:.1f}배 빨라졌다. 프로세스는 "
        "{best_proc:.1f}배였지만 {pw}개를 시작하는 데 {pstart_ms:.0f} ms가 들었다. 기다리는 "
        "작업은 CPU 수보다 많이 겹쳐 실행된다.",
    },
    "v4": {
        "en": "hashlib on threads: {thread:.1f}x, on processes: {proc:.1f}x. Code that releases "
        "the GIL scales on threads, without the cost of processes.",
        "ko": "hashlib을 스레드로: {thread:.1f}배, 프로세스로: {proc:.1f}배. GIL을 놓아 주는 "
        "코드는 프로세스 비용 없이 스레드로도 확장된다.",
    },
    "v5": {
        "en": "Sending {big} to a process and back cost {proc_ms:.1f} ms per item, against "
        "{thread_ms:.3f} ms on a thread (nothing is copied): {ratio:.0f}x.",
        "ko": "{big}을(를) 프로세스로 보내고 돌려받는 데 항목당 {proc_ms:.1f} ms, 스레드에서는 "
        "{thread_ms:.3f} ms (복사 없음): {ratio:.0f}배.",
    },
    "v6": {
        "en": "{n} processes took {proc_ms:.0f} ms to start and {proc_mb:.0f} MB of memory of "
        "their own; {n} threads {thread_ms:.1f} ms and {thread_mb:.1f} MB.",
        "ko": "프로세스 {n}개는 시작에 {proc_ms:.0f} ms, 고유 메모리 {proc_mb:.0f} MB가 들었고, "
        "스레드 {n}개는 {thread_ms:.1f} ms, {thread_mb:.1f} MB였다.",
    },
    "v7": {
        "en": "With processes, a segmentation fault failed 1 task of {n} ({ok} completed). In "
        "a thread, the same fault ended the whole program (exit status {code}).",
        "ko": "프로세스에서는 세그멘테이션 오류가 작업 {n}개 중 1개만 실패시켰다 ({ok}개 완료). "
        "스레드에서는 같은 오류가 프로그램 전체를 끝냈다 (종료 상태 {code}).",
    },
    "v8": {
        "en": "counter += 1 from 8 threads lost {plain_lost} of {total} updates by chance (CPython "
        "switches threads only at calls and loops); d[k] = d.get(k, 0) + 1 lost {dict_lost}. "
        "check_races found the first: {found_plain}, the second: {found_dict}; the locked "
        "version: {found_locked}. Processes share nothing: the parent's counter stayed at "
        "{parent}, each worker counted its own copy.",
        "ko": "스레드 8개에서 counter += 1은 우연히 {total}번 중 {plain_lost}번을 잃었다 "
        "(CPython은 함수 호출과 반복에서만 스레드를 바꾼다). d[k] = d.get(k, 0) + 1은 "
        "{dict_lost}번을 잃었다. check_races 결과: 첫째 {found_plain}, 둘째 {found_dict}, "
        "락을 쓴 버전 {found_locked}. 프로세스는 아무것도 공유하지 않는다: 부모의 카운터는 "
        "{parent}에 머물렀고 각 작업자는 자기 복사본을 셌다.",
    },
    "v9": {
        "en": "lock_order found the A->B / B->A inversion without hanging: {found}.",
        "ko": "lock_order는 멈추지 않고 A->B / B->A 순서 뒤바뀜을 찾아냈다: {found}.",
    },
    "unavailable": {
        "en": "not measured: {why}",
        "ko": "측정하지 못함: {why}",
    },
    "yes": {"en": "found", "ko": "발견"},
    "no": {"en": "nothing found", "ko": "발견 안 됨"},
}

GUIDE: dict[str, dict[str, str]] = {
    "cpu": {
        "en": "Pure-Python computing: processes ({proc:.1f}x here), as many as CPUs.",
        "ko": "순수 파이썬 계산: 프로세스 (여기서 {proc:.1f}배), CPU 수만큼.",
    },
    "io": {
        "en": "Waiting on I/O: threads, many more than CPUs ({best_thread:.0f}x here).",
        "ko": "I/O 대기: 스레드, CPU 수보다 훨씬 많이 (여기서 {best_thread:.0f}배).",
    },
    "native": {
        "en": "Native code that releases the GIL: threads ({thread:.1f}x here).",
        "ko": "GIL을 놓아 주는 네이티브 코드: 스레드 (여기서 {thread:.1f}배).",
    },
    "data": {
        "en": "Big arguments or results: keep them in one process (threads) unless the work "
        "per item dwarfs {proc_ms:.1f} ms per {big}.",
        "ko": "큰 인자나 결과: 항목당 작업이 {big}당 {proc_ms:.1f} ms보다 훨씬 크지 않다면 한 "
        "프로세스 안에서(스레드) 처리하라.",
    },
    "crash": {
        "en": "Code that may crash (native extensions, untrusted input): processes.",
        "ko": "죽을 수 있는 코드 (네이티브 확장, 신뢰할 수 없는 입력): 프로세스.",
    },
    "shared": {
        "en": "Shared mutable state on threads: lock it, and run poolwise.check_races in tests.",
        "ko": "스레드의 공유 가변 상태: 락을 걸고, 테스트에서 poolwise.check_races를 돌려라.",
    },
    "auto": {
        "en": "Not sure? poolwise.map(fn, items) measures your function and picks for you.",
        "ko": "잘 모르겠다면? poolwise.map(fn, items)가 함수를 측정해 대신 골라 준다.",
    },
}


def t(key: str, lang: str, **numbers: Any) -> str:
    """The text for ``key`` in ``lang``, with the numbers filled in."""
    return TEXT[key].get(lang, TEXT[key]["en"]).format(**numbers)


def g(key: str, lang: str, **numbers: Any) -> str:
    return GUIDE[key].get(lang, GUIDE[key]["en"]).format(**numbers)
