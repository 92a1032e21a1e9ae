import asyncio
import threading

from chris_jupyter.events import EventBus


async def test_publish_from_thread_reaches_subscriber_in_order() -> None:
    bus = EventBus()
    got = []

    async def consume() -> None:
        async for ev in bus.subscribe():
            got.append(ev.data["n"])
            if len(got) == 50:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    t = threading.Thread(target=lambda: [bus.publish("x", {"n": i}) for i in range(50)])
    t.start()
    t.join()
    await asyncio.wait_for(task, 5)
    assert got == list(range(50))


async def test_replay_since_and_type_filter() -> None:
    bus = EventBus()
    first = bus.publish("a", {"n": 1})
    bus.publish("b", {"n": 2})
    bus.publish("a", {"n": 3})
    seen = []
    async for ev in bus.subscribe(since=first.id, types=["a"]):
        seen.append(ev.data["n"])
        break
    assert seen == [3]
