"""The demo's conclusions, each chosen from the measured numbers.

``verdict(key, numbers, lang)`` and ``guide(numbers_by_section, lang)`` pick templates by
comparing the numbers with the thresholds below; when the numbers contradict a section's
claim on this machine, this run, the text says so and gives the likely reason instead of
stating the claim. ``choose`` and ``guide_keys`` return the template keys alone (the tests
feed them numbers on both sides of each threshold).
"""

from __future__ import annotations

from typing import Any

SCALES = 1.3  # a speed-up over serial that counts as running in parallel
COSTLIER = 1.5  # a ratio that counts as "costs more"
OVERLAPS = 2.0  # a speed-up on waits that counts as overlapping them

V: dict[str, dict[str, str]] = {
    "v1": {
        "en": "Starting two processes took {proc_ms:.1f} ms, two threads {thread_ms:.2f} ms: "
        "about {ratio:.0f}x more. Joining: {pjoin_ms:.1f} ms against {tjoin_ms:.2f} ms.",
        "ko": "프로세스 두 개를 시작하는 데 {proc_ms:.1f} ms, 스레드 두 개는 {thread_ms:.2f} ms: "
        "약 {ratio:.0f}배 차이. 기다리기(join): {pjoin_ms:.1f} ms 대 {tjoin_ms:.2f} ms.",
    },
    "v1_not": {
        "en": "Starting two processes took {proc_ms:.2f} ms, two threads {thread_ms:.2f} ms: "
        "only {ratio:.1f}x, not the gap the claim expects. Likely reason: the threads started "
        "while the machine was busy (each start waits for a CPU).",
        "ko": "프로세스 두 개를 시작하는 데 {proc_ms:.2f} ms, 스레드 두 개는 {thread_ms:.2f} ms: "
        "{ratio:.1f}배에 그쳐 주장만큼 차이가 나지 않았다. 그럴 법한 이유: 컴퓨터가 바빠 스레드 "
        "시작이 CPU를 기다렸다.",
    },
    "v2": {
        "en": "Processes ran {proc:.1f}x as fast as serial, threads {thread:.1f}x: the GIL lets "
        "one thread run Python at a time, so here only processes used the {cpus} CPUs.",
        "ko": "프로세스는 순차 실행보다 {proc:.1f}배, 스레드는 {thread:.1f}배 빨랐다. GIL 때문에 "
        "한 번에 한 스레드만 파이썬을 실행하므로, 여기서 CPU {cpus}개를 쓴 것은 프로세스뿐이다.",
    },
    "v2_free": {
        "en": "Threads ran {thread:.1f}x as fast as serial, processes {proc:.1f}x: this Python "
        "runs without the GIL, so threads used the {cpus} CPUs too.",
        "ko": "스레드는 순차 실행보다 {thread:.1f}배, 프로세스는 {proc:.1f}배 빨랐다. 이 파이썬은 "
        "GIL 없이 실행되므로 스레드도 CPU {cpus}개를 썼다.",
    },
    "v2_one_cpu": {
        "en": "Processes: {proc:.1f}x, threads: {thread:.1f}x. With {cpus} usable CPU nothing "
        "runs in parallel, so the claim cannot show here.",
        "ko": "프로세스 {proc:.1f}배, 스레드 {thread:.1f}배. 사용 가능한 CPU가 {cpus}개뿐이라 "
        "병렬 실행이 불가능해 이 주장을 여기서 확인할 수 없다.",
    },
    "v2_no_proc": {
        "en": "Processes ran only {proc:.1f}x as fast as serial (threads {thread:.1f}x): they "
        "did not use the {cpus} CPUs here. Likely reason: other programs kept the CPUs busy, "
        "or the tasks were too short to pay for the processes.",
        "ko": "프로세스는 순차 실행보다 {proc:.1f}배 (스레드 {thread:.1f}배)에 그쳐 여기서는 CPU "
        "{cpus}개를 쓰지 못했다. 그럴 법한 이유: 다른 프로그램이 CPU를 쓰고 있었거나, 작업이 "
        "너무 짧아 프로세스 비용을 감당하지 못했다.",
    },
    "v2_free_not": {
        "en": "This Python runs without the GIL, yet threads ran only {thread:.1f}x as fast as "
        "serial (processes {proc:.1f}x). Likely reason: other programs kept the CPUs busy, or "
        "the threads contended for shared objects.",
        "ko": "이 파이썬은 GIL 없이 실행되지만 스레드는 순차 실행보다 {thread:.1f}배 (프로세스 "
        "{proc:.1f}배)에 그쳤다. 그럴 법한 이유: 다른 프로그램이 CPU를 쓰고 있었거나, 스레드가 "
        "공유 객체를 두고 다퉜다.",
    },
    "v11_absent": {
        "en": "Not measured: this is Python {python}. Python 3.14 adds a third model: "
        "subinterpreters (concurrent.interpreters), each with its own GIL, run Python in "
        'parallel inside one process; poolwise runs them with backend="interpreter". Run the '
        "demo on 3.14 to measure them beside threads and processes.",
        "ko": "측정하지 않음: 이 파이썬은 {python}이다. 파이썬 3.14는 세 번째 방식을 더한다. 각자 "
        "GIL을 가진 서브인터프리터(concurrent.interpreters)가 한 프로세스 안에서 파이썬을 병렬로 "
        '실행한다. poolwise는 backend="interpreter"로 쓴다. 3.14에서 데모를 실행하면 스레드, '
        "프로세스와 나란히 측정한다.",
    },
    "v11": {
        "en": "Interpreters ran CPU-bound Python {interp:.1f}x as fast as serial, processes "
        "{proc:.1f}x, threads {thread:.1f}x: each interpreter has a GIL of its own, so they "
        "used the {cpus} CPUs inside one process.",
        "ko": "인터프리터는 CPU 작업을 순차 실행보다 {interp:.1f}배, 프로세스는 {proc:.1f}배, "
        "스레드는 {thread:.1f}배 빠르게 실행했다. 인터프리터마다 GIL이 따로 있어 한 프로세스 "
        "안에서 CPU {cpus}개를 썼다.",
    },
    "v11_not": {
        "en": "Interpreters ran CPU-bound Python only {interp:.1f}x as fast as serial "
        "(processes {proc:.1f}x, threads {thread:.1f}x): not in parallel here. Likely reason: "
        "other programs kept the CPUs busy, or the tasks were too short to pay for the pool.",
        "ko": "인터프리터는 CPU 작업을 순차 실행보다 {interp:.1f}배 (프로세스 {proc:.1f}배, "
        "스레드 {thread:.1f}배)에 그쳐 여기서는 병렬로 실행되지 않았다. 그럴 법한 이유: 다른 "
        "프로그램이 CPU를 쓰고 있었거나, 작업이 너무 짧아 풀 비용을 감당하지 못했다.",
    },
    "v11_start_dearer": {
        "en": "A new pool of 2 interpreters gave its first result in {first_interp_ms:.0f} ms, "
        "{start_ratio:.1f}x the {first_proc_ms:.0f} ms of processes ({method}): each "
        "interpreter imports its modules afresh.",
        "ko": "인터프리터 2개짜리 새 풀은 {first_interp_ms:.0f} ms 만에 첫 결과를 냈다. "
        "프로세스({method}, {first_proc_ms:.0f} ms)의 {start_ratio:.1f}배: 인터프리터는 모듈을 "
        "각자 새로 불러온다.",
    },
    "v11_start_cheaper": {
        "en": "A new pool of 2 interpreters gave its first result in {first_interp_ms:.0f} ms, "
        "processes ({method}) in {first_proc_ms:.0f} ms.",
        "ko": "인터프리터 2개짜리 새 풀은 {first_interp_ms:.0f} ms, 프로세스({method})는 "
        "{first_proc_ms:.0f} ms 만에 첫 결과를 냈다.",
    },
    "v11_data": {
        "en": "Moving a {big} item cost {move_interp_ms:.1f} ms to interpreters against "
        "{move_proc_ms:.1f} ms to processes ({move_ratio:.1f}x): no pipe, one process.",
        "ko": "{big} 항목 하나를 옮기는 데 인터프리터는 {move_interp_ms:.1f} ms, 프로세스는 "
        "{move_proc_ms:.1f} ms ({move_ratio:.1f}배): 파이프 없이 한 프로세스 안이다.",
    },
    "v11_data_not": {
        "en": "Moving a {big} item cost {move_interp_ms:.1f} ms to interpreters and "
        "{move_proc_ms:.1f} ms to processes: no clear saving here.",
        "ko": "{big} 항목 하나를 옮기는 데 인터프리터는 {move_interp_ms:.1f} ms, 프로세스는 "
        "{move_proc_ms:.1f} ms: 여기서는 뚜렷한 차이가 없었다.",
    },
    "v2_threads": {
        "en": "Threads ran {thread:.1f}x as fast as serial although the GIL is on (processes "
        "{proc:.1f}x): unexpected for pure Python. Likely reason: noise in a short "
        "measurement; run it again with --full.",
        "ko": "GIL이 켜져 있는데도 스레드가 순차 실행보다 {thread:.1f}배 빨랐다 (프로세스 "
        "{proc:.1f}배): 순수 파이썬에서는 뜻밖이다. 그럴 법한 이유: 짧은 측정의 잡음. --full로 "
        "다시 실행해 보라.",
    },
    "v3": {
        "en": "{n} waits: {best_thread:.1f}x faster on {tw} threads; processes reached "
        "{best_proc:.1f}x but paid {pstart_ms:.0f} ms to start {pw} of them.",
        "ko": "{n}번의 대기: 스레드 {tw}개로 {best_thread:.1f}배 빨라졌다. 프로세스는 "
        "{best_proc:.1f}배였지만 {pw}개를 시작하는 데 {pstart_ms:.0f} ms가 들었다.",
    },
    "v3_overlap": {
        "en": "Waiting overlapped on more threads than CPUs ({cpus}).",
        "ko": "기다리는 작업은 CPU 수({cpus}개)보다 많은 스레드에서 겹쳐 실행되었다.",
    },
    "v3_not": {
        "en": "{n} waits: threads reached only {best_thread:.1f}x (best on {tw}), processes "
        "{best_proc:.1f}x. Likely reason: the machine was too busy to wake the threads on time.",
        "ko": "{n}번의 대기: 스레드는 {best_thread:.1f}배 (스레드 {tw}개일 때 최고), 프로세스는 "
        "{best_proc:.1f}배에 그쳤다. 그럴 법한 이유: 컴퓨터가 너무 바빠 스레드를 제때 깨우지 "
        "못했다.",
    },
    "v4": {
        "en": "hashlib on threads: {thread:.1f}x, on processes: {proc:.1f}x. Code that releases "
        "the GIL scaled on threads, without the cost of processes.",
        "ko": "hashlib을 스레드로: {thread:.1f}배, 프로세스로: {proc:.1f}배. GIL을 놓아 주는 "
        "코드는 프로세스 비용 없이 스레드로 확장되었다.",
    },
    "v4_one_cpu": {
        "en": "hashlib on threads: {thread:.2f}x, on processes: {proc:.2f}x: with {cpus} usable "
        "CPU nothing runs in parallel, so the claim cannot show here.",
        "ko": "hashlib을 스레드로: {thread:.2f}배, 프로세스로: {proc:.2f}배. 사용 가능한 CPU가 "
        "{cpus}개뿐이라 병렬 실행이 불가능해 이 주장을 여기서 확인할 수 없다.",
    },
    "v4_not": {
        "en": "hashlib on threads: {thread:.2f}x, on processes: {proc:.2f}x: threads did not "
        "scale on this machine, this run, so the claim did not show. Likely reason: the other "
        "CPUs were busy, or hashlib kept the GIL for this input.",
        "ko": "hashlib을 스레드로: {thread:.2f}배, 프로세스로: {proc:.2f}배. 이번 실행에서 이 "
        "컴퓨터의 스레드는 확장되지 않아 주장이 드러나지 않았다. 그럴 법한 이유: 다른 CPU가 "
        "바빴거나, 이 입력에서 hashlib이 GIL을 놓지 않았다.",
    },
    "v5": {
        "en": "Sending {big} to a process and back cost {proc_ms:.1f} ms per item, against "
        "{thread_ms:.3f} ms on a thread (nothing is copied): {ratio:.0f}x.",
        "ko": "{big}을(를) 프로세스로 보내고 돌려받는 데 항목당 {proc_ms:.1f} ms, 스레드에서는 "
        "{thread_ms:.3f} ms (복사 없음): {ratio:.0f}배.",
    },
    "v5_shm": {
        "en": "That is in shared memory, poolwise's default ({shm_gbps:.1f} GB/s there and "
        "back); through a pipe, as a plain process pool sends it, {pipe_ms:.1f} ms "
        "({pipe_gbps:.2f} GB/s): shared memory was {gain:.1f}x faster.",
        "ko": "이는 poolwise의 기본값인 공유 메모리를 통한 것이다 (왕복 {shm_gbps:.1f} GB/s). "
        "일반 프로세스 풀처럼 파이프로 보내면 {pipe_ms:.1f} ms ({pipe_gbps:.2f} GB/s): 공유 "
        "메모리가 {gain:.1f}배 빨랐다.",
    },
    "v5_shm_not": {
        "en": "Shared memory, poolwise's default, did not beat the pipe here: {proc_ms:.2f} ms "
        "against {pipe_ms:.2f} ms per item ({gain:.1f}x). Likely reason: other programs kept "
        "the CPUs busy, and new memory costs page faults on this machine.",
        "ko": "poolwise의 기본값인 공유 메모리가 여기서는 파이프보다 낫지 않았다: 항목당 "
        "{proc_ms:.2f} ms 대 {pipe_ms:.2f} ms ({gain:.1f}배). 그럴 법한 이유: 다른 프로그램이 "
        "CPU를 차지했고, 이 컴퓨터에서는 새 메모리에 페이지 폴트 비용이 든다.",
    },
    "v5_not": {
        "en": "Sending {big} to a process and back cost {proc_ms:.3f} ms per item, against "
        "{thread_ms:.3f} ms on a thread: no clear extra cost here ({ratio:.1f}x). Likely "
        "reason: a busy machine slowed the threads' round trips as much.",
        "ko": "{big}을(를) 프로세스로 보내고 돌려받는 데 항목당 {proc_ms:.3f} ms, 스레드에서는 "
        "{thread_ms:.3f} ms: 여기서는 뚜렷한 추가 비용이 없었다 ({ratio:.1f}배). 그럴 법한 "
        "이유: 컴퓨터가 바빠 스레드 쪽도 그만큼 느려졌다.",
    },
    "v6": {
        "en": "{n} processes took {proc_ms:.0f} ms to start and {proc_mb:.0f} MB of memory of "
        "their own; {n} threads {thread_ms:.1f} ms and {thread_mb:.1f} MB.",
        "ko": "프로세스 {n}개는 시작에 {proc_ms:.0f} ms, 고유 메모리 {proc_mb:.0f} MB가 들었고, "
        "스레드 {n}개는 {thread_ms:.1f} ms, {thread_mb:.1f} MB였다.",
    },
    "v6_not": {
        "en": "{n} processes took {proc_ms:.0f} ms to start, but their own memory did not show "
        "({proc_mb:.1f} MB, against {thread_mb:.1f} MB for {n} threads). Likely reason: this "
        "system does not report each process's own memory (USS).",
        "ko": "프로세스 {n}개는 시작에 {proc_ms:.0f} ms가 들었지만 고유 메모리는 드러나지 않았다 "
        "({proc_mb:.1f} MB, 스레드 {n}개는 {thread_mb:.1f} MB). 그럴 법한 이유: 이 시스템이 "
        "프로세스별 고유 메모리(USS)를 알려 주지 않는다.",
    },
    "v7_proc": {
        "en": "With processes, a segmentation fault failed 1 task of {n}; the other {ok} "
        "completed.",
        "ko": "프로세스에서는 세그멘테이션 오류가 작업 {n}개 중 1개만 실패시켰고 나머지 {ok}개는 "
        "완료되었다.",
    },
    "v7_proc_more": {
        "en": "With processes, the fault failed {failed} tasks of {n} ({ok} completed): not "
        "the one task the claim expects. Likely reason: tasks queued on the crashed worker "
        "failed with it.",
        "ko": "프로세스에서는 오류가 작업 {n}개 중 {failed}개를 실패시켰다 ({ok}개 완료): 주장처럼 "
        "1개가 아니다. 그럴 법한 이유: 죽은 작업자에 대기 중이던 작업도 함께 실패했다.",
    },
    "v7_thread": {
        "en": "In a thread, the same fault ended the whole program (exit status {code}).",
        "ko": "스레드에서는 같은 오류가 프로그램 전체를 끝냈다 (종료 상태 {code}).",
    },
    "v7_thread_survived": {
        "en": "In a thread, the fault did not end the program here (exit status {code}): "
        "unexpected. Likely reason: this platform turned the fault into an error the thread "
        "could catch.",
        "ko": "스레드에서 오류가 프로그램을 끝내지 않았다 (종료 상태 {code}): 뜻밖이다. 그럴 법한 "
        "이유: 이 플랫폼이 오류를 스레드가 잡을 수 있는 예외로 바꿨다.",
    },
    "v8_lost": {
        "en": "From 8 threads, counter += 1 lost {plain_lost} of {total} updates by chance, "
        "d[k] = d.get(k, 0) + 1 lost {dict_lost}, the locked version {locked_lost}.",
        "ko": "스레드 8개에서 counter += 1은 우연히 {total}번 중 {plain_lost}번, "
        "d[k] = d.get(k, 0) + 1은 {dict_lost}번, 락을 건 버전은 {locked_lost}번을 잃었다.",
    },
    "v8_lucky": {
        "en": "Losing none is luck, not safety: CPython with the GIL switches threads only at "
        "calls and loops.",
        "ko": "하나도 잃지 않은 것은 운이지 안전해서가 아니다: GIL이 있는 CPython은 함수 호출과 "
        "반복에서만 스레드를 바꾼다.",
    },
    "v8_checks": {
        "en": "check_races found both bugs and passed the locked version.",
        "ko": "check_races는 두 버그를 모두 찾았고 락을 건 버전은 통과시켰다.",
    },
    "v8_missed": {
        "en": "check_races missed the bug in {code}: a bug in poolwise, please report it.",
        "ko": "check_races가 {code}의 버그를 놓쳤다: poolwise의 버그이니 알려 주기 바란다.",
    },
    "v8_false": {
        "en": "check_races flagged the locked version: a false alarm, a bug in poolwise.",
        "ko": "check_races가 락을 건 버전을 문제로 보고했다: 잘못된 경보이며 poolwise의 버그다.",
    },
    "v8_failed": {
        "en": "check_races failed on {code}: {error}",
        "ko": "check_races가 {code}에서 실패했다: {error}",
    },
    "v8_procs": {
        "en": "Processes share nothing: the parent's counter stayed at {parent}, each worker "
        "counted its own copy.",
        "ko": "프로세스는 아무것도 공유하지 않는다: 부모의 카운터는 {parent}에 머물렀고 각 "
        "작업자는 자기 복사본을 셌다.",
    },
    "v8_procs_shared": {
        "en": "The parent's counter changed to {parent} while processes counted: unexpected, "
        "since processes share no memory.",
        "ko": "프로세스가 세는 동안 부모의 카운터가 {parent}(으)로 바뀌었다: 프로세스는 메모리를 "
        "공유하지 않으므로 뜻밖이다.",
    },
    "v9": {
        "en": "lock_order found the A->B / B->A inversion without hanging.",
        "ko": "lock_order는 멈추지 않고 A->B / B->A 순서 뒤바뀜을 찾아냈다.",
    },
    "v9_missed": {
        "en": "lock_order did not find the A->B / B->A inversion: a bug in poolwise, please "
        "report it.",
        "ko": "lock_order가 A->B / B->A 순서 뒤바뀜을 찾지 못했다: poolwise의 버그이니 알려 주기 "
        "바란다.",
    },
    "v9_failed": {
        "en": "The lock_order check failed: {error}",
        "ko": "lock_order 검사가 실패했다: {error}",
    },
}

G: dict[str, dict[str, str]] = {
    "g_cpu": {
        "en": "Pure-Python computing: processes ({proc:.1f}x here), as many as CPUs.",
        "ko": "순수 파이썬 계산: 프로세스 (여기서 {proc:.1f}배), CPU 수만큼.",
    },
    "g_cpu_free": {
        "en": "Pure-Python computing on this GIL-free Python: threads ({thread:.1f}x here).",
        "ko": "GIL 없는 이 파이썬에서 순수 파이썬 계산: 스레드 (여기서 {thread:.1f}배).",
    },
    "g_cpu_free_not": {
        "en": "Pure-Python computing on this GIL-free Python: threads can run it in parallel, "
        "but gave {thread:.1f}x here (processes {proc:.1f}x): measure on the machine that will "
        "run it.",
        "ko": "GIL 없는 이 파이썬에서 순수 파이썬 계산: 스레드로 병렬 실행이 가능하지만 여기서는 "
        "{thread:.1f}배 (프로세스 {proc:.1f}배)였다. 실제로 돌릴 컴퓨터에서 측정하라.",
    },
    "g_cpu_none": {
        "en": "Pure-Python computing: neither scaled here (processes {proc:.1f}x, threads "
        "{thread:.1f}x): measure on the machine that will run it.",
        "ko": "순수 파이썬 계산: 여기서는 둘 다 확장되지 않았다 (프로세스 {proc:.1f}배, 스레드 "
        "{thread:.1f}배). 실제로 돌릴 컴퓨터에서 측정하라.",
    },
    "g_io": {
        "en": "Waiting on I/O: threads, many more than CPUs ({best_thread:.0f}x here).",
        "ko": "I/O 대기: 스레드, CPU 수보다 훨씬 많이 (여기서 {best_thread:.0f}배).",
    },
    "g_io_none": {
        "en": "Waiting on I/O: threads should overlap the waits, but gave only "
        "{best_thread:.1f}x here: measure again on a quieter machine.",
        "ko": "I/O 대기: 스레드가 대기를 겹쳐야 하지만 여기서는 {best_thread:.1f}배에 그쳤다. "
        "덜 바쁜 컴퓨터에서 다시 측정하라.",
    },
    "g_native": {
        "en": "Native code that releases the GIL: threads ({thread:.1f}x here).",
        "ko": "GIL을 놓아 주는 네이티브 코드: 스레드 (여기서 {thread:.1f}배).",
    },
    "g_native_proc": {
        "en": "Native code: processes here ({proc:.1f}x; threads {thread:.1f}x).",
        "ko": "네이티브 코드: 여기서는 프로세스 ({proc:.1f}배, 스레드 {thread:.1f}배).",
    },
    "g_native_none": {
        "en": "Native code: neither scaled here (threads {thread:.1f}x, processes {proc:.1f}x).",
        "ko": "네이티브 코드: 여기서는 둘 다 확장되지 않았다 (스레드 {thread:.1f}배, 프로세스 "
        "{proc:.1f}배).",
    },
    "g_data": {
        "en": "Big arguments or results: keep them in one process (threads) unless the work "
        "per item dwarfs {proc_ms:.1f} ms per {big}.",
        "ko": "큰 인자나 결과: 항목당 작업이 {big}당 {proc_ms:.1f} ms보다 훨씬 크지 않다면 한 "
        "프로세스 안에서(스레드) 처리하라.",
    },
    "g_data_cheap": {
        "en": "Big arguments or results cost little to move here ({proc_ms:.2f} ms per {big}): "
        "either way.",
        "ko": "큰 인자나 결과도 여기서는 옮기는 비용이 작았다 ({big}당 {proc_ms:.2f} ms): 어느 "
        "쪽이든 된다.",
    },
    "g_crash": {
        "en": "Code that may crash (native extensions, untrusted input): processes.",
        "ko": "죽을 수 있는 코드 (네이티브 확장, 신뢰할 수 없는 입력): 프로세스.",
    },
    "g_crash_unclear": {
        "en": "Code that may crash: processes isolated it less than expected here ({failed} of "
        "{n} tasks failed); see section 7.",
        "ko": "죽을 수 있는 코드: 여기서는 프로세스의 격리가 기대보다 약했다 (작업 {n}개 중 "
        "{failed}개 실패). 7절을 보라.",
    },
    "g_shared": {
        "en": "Shared mutable state on threads: lock it, and run poolwise.check_races in tests.",
        "ko": "스레드의 공유 가변 상태: 락을 걸고, 테스트에서 poolwise.check_races를 돌려라.",
    },
    "g_shared_unclear": {
        "en": "Shared mutable state on threads: lock it; check_races did not behave as it "
        "should here (see section 8).",
        "ko": "스레드의 공유 가변 상태: 락을 걸어라. 여기서는 check_races가 제대로 동작하지 "
        "않았다 (8절을 보라).",
    },
    "g_interp": {
        "en": 'CPU-bound Python inside one process: interpreters (backend="interpreter", '
        "{interp:.1f}x here). Keep processes ({proc:.1f}x) where a task needs a timeout, may "
        "crash, or imports an extension that refuses subinterpreters (numpy, for one).",
        "ko": '한 프로세스 안의 CPU 작업: 인터프리터 (backend="interpreter", 여기서 '
        "{interp:.1f}배). 작업에 시간 제한이 필요하거나, 죽을 수 있거나, 서브인터프리터를 "
        "거부하는 확장 모듈(numpy 등)을 쓰면 프로세스({proc:.1f}배)를 유지하라.",
    },
    "g_interp_data": {
        "en": 'CPU-bound Python on big arguments: interpreters (backend="interpreter") ran '
        "it {interp:.1f}x and moved a {big} item {move_ratio:.1f}x more cheaply than "
        "processes. Keep processes where a task needs a timeout, may crash, or imports numpy.",
        "ko": '큰 인자를 받는 CPU 작업: 인터프리터 (backend="interpreter")가 {interp:.1f}배로 '
        "실행했고 {big} 항목을 프로세스보다 {move_ratio:.1f}배 싸게 옮겼다. 시간 제한, 장애 격리, "
        "numpy가 필요하면 프로세스를 유지하라.",
    },
    "g_interp_none": {
        "en": "Interpreters did not run in parallel here ({interp:.1f}x): measure them on a "
        "quieter machine before choosing them.",
        "ko": "여기서는 인터프리터가 병렬로 실행되지 않았다 ({interp:.1f}배): 선택하기 전에 "
        "한가한 컴퓨터에서 다시 측정하라.",
    },
    "g_interp_absent": {
        "en": 'On Python 3.14, subinterpreters add a third answer (backend="interpreter"): '
        "parallel Python inside one process; this Python ({python}) does not have them.",
        "ko": '파이썬 3.14에서는 서브인터프리터가 세 번째 답이 된다 (backend="interpreter"): '
        "한 프로세스 안의 병렬 파이썬. 이 파이썬({python})에는 없다.",
    },
    "g_auto": {
        "en": "Not sure? poolwise.map(fn, items) measures your function and picks for you.",
        "ko": "잘 모르겠다면? poolwise.map(fn, items)가 함수를 측정해 대신 골라 준다.",
    },
}


def choose(key: str, n: dict[str, Any]) -> list[str]:
    """The verdict templates for section ``key`` given its numbers."""
    if key == "s1":
        return ["v1" if n["ratio"] >= COSTLIER else "v1_not"]
    if key == "s2":
        if n["cpus"] < 2:
            return ["v2_one_cpu"]
        if not n["gil"]:
            return ["v2_free" if n["thread"] >= SCALES else "v2_free_not"]
        if n["proc"] < SCALES:
            return ["v2_no_proc"]
        return ["v2_threads" if n["thread"] >= SCALES else "v2"]
    if key == "s3":
        if n["best_thread"] < OVERLAPS:
            return ["v3_not"]
        return ["v3", "v3_overlap"] if n["tw"] > n["cpus"] else ["v3"]
    if key == "s4":
        if n["cpus"] < 2:
            return ["v4_one_cpu"]
        return ["v4" if n["thread"] >= SCALES else "v4_not"]
    if key == "s5":
        return [
            "v5" if n["ratio"] >= COSTLIER else "v5_not",
            "v5_shm" if n["gain"] >= COSTLIER else "v5_shm_not",
        ]
    if key == "s6":
        return ["v6" if n["proc_mb"] > n["thread_mb"] else "v6_not"]
    if key == "s7":
        isolated = n["failed"] == 1 and n["ok"] == n["n"] - 1
        return [
            "v7_proc" if isolated else "v7_proc_more",
            "v7_thread_survived" if n["thread_survived"] else "v7_thread",
        ]
    if key == "s8":
        return _choose_races(n)
    if key == "s10":
        if not n["available"]:
            return ["v11_absent"]
        return [
            "v11" if n["interp"] >= SCALES else "v11_not",
            "v11_start_dearer" if n["start_ratio"] >= COSTLIER else "v11_start_cheaper",
            "v11_data" if n["move_ratio"] >= COSTLIER else "v11_data_not",
        ]
    if key == "s9":
        return {"found": ["v9"], "missed": ["v9_missed"]}.get(n["status"], ["v9_failed"])
    raise KeyError(key)


def _choose_races(n: dict[str, Any]) -> list[str]:
    keys = ["v8_lost"]
    if n["gil"] and n["plain_lost"] == 0:
        keys.append("v8_lucky")
    checks = n["checks"]  # code -> "found" | "missed" | "failed: ..."
    if all(checks[c] == "found" for c in ("plain", "dict")) and checks["locked"] == "missed":
        keys.append("v8_checks")
    else:
        for code in ("plain", "dict", "locked"):
            status = checks[code]
            if status.startswith("failed"):
                keys.append(f"v8_failed:{code}")
            elif code == "locked" and status == "found":
                keys.append("v8_false")
            elif code != "locked" and status == "missed":
                keys.append(f"v8_missed:{code}")
    keys.append("v8_procs" if n["parent"] == 0 else "v8_procs_shared")
    return keys


_CODE = {"plain": "counter += 1", "dict": "d[k] = d.get(k, 0) + 1", "locked": "with lock"}


def verdict(key: str, n: dict[str, Any], lang: str) -> str:
    """The verdict of section ``key``, in ``lang``, from its numbers."""
    parts = []
    for k in choose(key, n):
        name, _, code = k.partition(":")
        extra = {}
        if code:
            extra = {"code": _CODE[code], "error": n["checks"][code].partition(": ")[2]}
        parts.append(V[name][lang].format(**n, **extra))
    return " ".join(parts)


def guide_keys(n: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(template, section) of each recommendation the measured sections support."""
    keys = []
    if "s2" in n:
        s = n["s2"]
        if s["cpus"] >= 2 and not s["gil"]:
            keys.append(("g_cpu_free" if s["thread"] >= SCALES else "g_cpu_free_not", "s2"))
        else:
            keys.append(("g_cpu" if s["proc"] >= SCALES else "g_cpu_none", "s2"))
    if "s3" in n:
        keys.append(("g_io" if n["s3"]["best_thread"] >= OVERLAPS else "g_io_none", "s3"))
    if "s4" in n:
        s = n["s4"]
        pick = "g_native" if s["thread"] >= SCALES else "g_native_proc"
        keys.append((pick if max(s["thread"], s["proc"]) >= SCALES else "g_native_none", "s4"))
    if "s5" in n:
        keys.append(("g_data" if n["s5"]["ratio"] >= COSTLIER else "g_data_cheap", "s5"))
    if "s7" in n:
        s = n["s7"]
        held = s["failed"] == 1 and not s["thread_survived"]
        keys.append(("g_crash" if held else "g_crash_unclear", "s7"))
    if "s8" in n:
        keys.append(
            ("g_shared" if "v8_checks" in choose("s8", n["s8"]) else "g_shared_unclear", "s8")
        )
    if "s10" in n:
        s = n["s10"]
        if not s["available"]:
            keys.append(("g_interp_absent", "s10"))
        elif s["interp"] < SCALES:
            keys.append(("g_interp_none", "s10"))
        else:
            keys.append(("g_interp_data" if s["move_ratio"] >= COSTLIER else "g_interp", "s10"))
    keys.append(("g_auto", ""))
    return keys


def guide(n: dict[str, dict[str, Any]], lang: str) -> list[str]:
    """The recommendations, in ``lang``, each from the numbers of its section."""
    return [G[k][lang].format(**n.get(sec, {})) for k, sec in guide_keys(n)]
