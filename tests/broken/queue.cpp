// Broken adapters for catalog sections 9 and 10: the producer/consumer cases
// over a queue that drops items once several producers put into it
// (tests/broken/queue_adapters.h). Registered as "<id>@broken.dropping_queue".
#include <string>

#include "cases/primitives/queue_mp.h"
#include "cases/primitives/queue_thread.h"
#include "tests/broken/queue_adapters.h"

namespace {

using namespace racegate::cases::queues;
using racegate::broken::DroppingMpQueue;
using racegate::broken::DroppingThreadQueue;

// Several producer processes, every item must reach the consumer.
// Several producer threads, consumed must equal produced after join().
[[maybe_unused]] const bool kRegistered =
    register_queue_case<DroppingMpQueue<std::string>>("mpqueue.fifo_cross_process", fifo_cross_process_spec(),
                                                      &fifo_cross_process<DroppingMpQueue>) &&
    register_queue_case<DroppingThreadQueue<std::string>>("tqueue.task_done_join", task_done_join_spec(),
                                                          &task_done_join<DroppingThreadQueue>);

}  // namespace
