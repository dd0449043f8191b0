// Catalog sections 10 and 11: queue.Queue (threads) and JoinableQueue, over
// the queue adapters.
//
// The templates live in cases/primitives/queue_thread.h. The thread queue's
// cases run for the reference's queue::Queue under the catalog id;
// tqueue.bounded_full_empty also runs for boost::interprocess::message_queue
// (shared by threads) under "<id>@boost.message_queue", which has no task
// count for task_done_join. joinablequeue.task_done_join runs for the
// reference's mp::JoinableQueue.
#include "cases/adapters/queue.h"
#include "cases/adapters/queue_boost.h"
#include "cases/primitives/queue_thread.h"

namespace {

using namespace racegate::cases::queues;
using racegate::cases::queue_adapters::BoostMessageQueue;
using racegate::cases::queue_adapters::RefMpJoinableQueue;
using racegate::cases::queue_adapters::RefThreadQueue;

[[maybe_unused]] const bool kRegistered =
    register_queue_case<RefThreadQueue<std::string>>("tqueue.bounded_full_empty", bounded_full_empty_spec(),
                                                     &bounded_full_empty<RefThreadQueue>) &&
    register_queue_case<BoostMessageQueue<std::string>>("tqueue.bounded_full_empty", bounded_full_empty_spec(),
                                                        &bounded_full_empty<BoostMessageQueue>) &&
    register_queue_case<RefThreadQueue<std::string>>("tqueue.task_done_join", task_done_join_spec(),
                                                     &task_done_join<RefThreadQueue>) &&
    register_queue_case<RefMpJoinableQueue<std::string>>("joinablequeue.task_done_join",
                                                         joinable_task_done_join_spec(),
                                                         &joinable_task_done_join<RefMpJoinableQueue>);

}  // namespace
