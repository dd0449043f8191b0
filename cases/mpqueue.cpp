// Catalog section 9: multiprocessing.Queue, over the queue adapters.
//
// Each behavior is one template in cases/primitives/queue_mp.h, registered
// for the reference's mp::Queue under the catalog id and for
// boost::interprocess::message_queue under "<id>@boost.message_queue".
#include "cases/adapters/queue.h"
#include "cases/adapters/queue_boost.h"
#include "cases/primitives/queue_mp.h"

namespace {

using namespace racegate::cases::queues;
using racegate::cases::queue_adapters::BoostMessageQueue;
using racegate::cases::queue_adapters::RefMpQueue;

template <template <class> class A>
bool register_for() {
  using Q = A<std::string>;
  return register_queue_case<Q>("mpqueue.fifo_cross_process", fifo_cross_process_spec(), &fifo_cross_process<A>) &&
         register_queue_case<Q>("mpqueue.maxsize_full", maxsize_full_spec(), &maxsize_full<A>) &&
         register_queue_case<Q>("mpqueue.get_empty", get_empty_spec(), &get_empty<A>) &&
         register_queue_case<Q>("mpqueue.empty_lags_put", empty_lags_put_spec(), &empty_lags_put<A>);
}

// close() and the missing task_done() are the reference's only: message_queue
// has neither a close nor a task count to compare.
[[maybe_unused]] const bool kRegistered =
    register_for<RefMpQueue>() && register_for<BoostMessageQueue>() &&
    register_queue_case<RefMpQueue<std::string>>("mpqueue.closed_and_no_task_done", closed_and_no_task_done_spec(),
                                                 &closed_and_no_task_done<RefMpQueue>);

}  // namespace
