// Broken adapters for catalog section 1: the process.join.* cases over a join
// that returns before the child exits.
#include "cases/adapters/process.h"
#include "racegate/harness/case.h"
#include "tests/broken/process_adapters.h"

using racegate::broken::EarlyJoinProcess;

RG_CASE("process.join.blocks_until_exit@broken.early_join", (racegate::cases::join_blocks_until_exit_spec())) {
  racegate::cases::join_blocks_until_exit<EarlyJoinProcess>(ctx);
}
RG_CASE("process.join.timeout_returns_while_alive@broken.early_join",
        (racegate::cases::join_timeout_returns_while_alive_spec())) {
  racegate::cases::join_timeout_returns_while_alive<EarlyJoinProcess>(ctx);
}
RG_CASE("process.join.timeout_longer_returns_early@broken.early_join",
        (racegate::cases::join_timeout_longer_returns_early_spec())) {
  racegate::cases::join_timeout_longer_returns_early<EarlyJoinProcess>(ctx);
}
