// racegate/aio/aio.h — racegate::aio, an asyncio-like event loop on C++20
// coroutines: everything in one include.
//
//   racegate/aio/task.h      aio::Task<T>: a coroutine (async def)
//   racegate/aio/future.h    aio::Future<T>: asyncio.Future
//   racegate/aio/loop.h      EventLoop, Clock, run, create_task, TaskHandle<T>,
//                            sleep, blocking_sleep, current_task
//   racegate/aio/gather.h    gather
//   racegate/aio/wait_for.h  wait_for
//
// The contracts (scheduling order, clocks, cancellation, thread-safety) are in
// loop.h; docs/reference/aio.md maps asyncio's API onto this one.
#pragma once

#include "racegate/aio/future.h"
#include "racegate/aio/gather.h"
#include "racegate/aio/loop.h"
#include "racegate/aio/task.h"
#include "racegate/aio/wait_for.h"
