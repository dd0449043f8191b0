// Catalog section 17: the ticket office with a file db (tickets.*).
#include <algorithm>
#include <optional>
#include <string>

#include "cases/support/ticket_store.h"
#include "racegate/harness/case.h"

using racegate::harness::Grade;
namespace tk = racegate::cases::tickets;

namespace {

bool all_exited_zero(const tk::OfficeResult& r) {
  return std::all_of(r.exit_codes.begin(), r.exit_codes.end(),
                     [](const std::optional<int>& c) { return c == std::optional<int>(0); });
}

// The locked office's exact counts: min(buyers, count) tickets sold, the rest
// refused, the db down by what was sold, no torn read inside the lock.
void assert_locked_counts(const tk::OfficeParams& p, const tk::OfficeResult& r) {
  const int sold = std::min(p.buyers, p.count);
  RC_ASSERT(all_exited_zero(r));
  RC_ASSERT(r.reports == p.buyers);
  RC_ASSERT(r.bought == sold);
  RC_ASSERT(r.sold_out == p.buyers - sold);
  RC_ASSERT(r.read_errors == 0);
  RC_ASSERT(r.final_db.kind == tk::ReadKind::kCount);
  RC_ASSERT(r.final_db.count == p.count - sold);
}

}  // namespace

// Under the inherited lock, get_ticket() (read, decrement, write) is atomic:
// exactly min(buyers, count) buyers succeed, the others fail, the db ends at
// count - sold (0 whenever count <= buyers). The catalog's runs first (10
// buyers, count 1 and 3), then any buyers 2..10 and count 0..12.
RG_CASE("tickets.locked_no_oversell",
        {.title = "With the lock, the ticket office never oversells: successes == count, final db 0",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"tickets", "lock", "process", "D"},
         .default_trials = 60}) {
  for (const int count : {1, 3}) {
    tk::OfficeParams p;
    p.buyers = 10;
    p.count = count;
    const auto r = tk::run_office(p);
    if (!all_exited_zero(r) || r.bought != count || r.sold_out != 10 - count ||
        r.final_db.kind != tk::ReadKind::kCount || r.final_db.count != 0) {
      ctx.fail("10 buyers, count " + std::to_string(count) + ": " + std::to_string(r.bought) + " bought, " +
               std::to_string(r.sold_out) + " sold out, final db " + std::to_string(r.final_db.count));
      return;
    }
  }
  ctx.check([] {
    tk::OfficeParams p;
    p.buyers = *rc::gen::inRange(2, 11);
    p.count = *rc::gen::inRange(0, 13);
    p.yield_before_write = *rc::gen::arbitrary<bool>();
    p.yield_after_truncate = *rc::gen::arbitrary<bool>();
    const auto r = tk::run_office(p);
    assert_locked_counts(p, r);
    // What search() saw is racy (it reads outside the lock); a whole read saw
    // a count between 0 and the initial one.
    for (const auto& s : r.searches) {
      if (s.kind == tk::ReadKind::kCount) RC_ASSERT(s.count >= 0 && s.count <= p.count);
    }
  });
}

// Without the lock, buyers that read before another's write all see a ticket
// left: overselling is interesting (CPython: 10 of 10 bought with one
// ticket), never required. Forbidden in every run: a buyer that did not
// report, no success at all (the first read precedes every write), successes
// + failures != buyers, a final db outside [0, count). With a barrier after
// the read every buyer reads the initial count before anyone writes, so
// every one of them buys and the db ends at count - 1, deterministically.
RG_CASE("tickets.unlocked_oversell",
        {.title =
             "Without the lock, the ticket office can oversell; successes >= 1 and successes + failures == N",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"tickets", "process", "R"},
         .expectation = racegate::harness::Expectation::kOutcomes,
         .default_trials = 100}) {
  ctx.check([&ctx] {
    tk::OfficeParams p;
    p.locked = false;
    p.buyers = *rc::gen::inRange(2, 11);
    p.count = *rc::gen::inRange(1, p.buyers + 1);
    p.barrier_after_read = *rc::gen::arbitrary<bool>();
    p.yield_before_write = *rc::gen::arbitrary<bool>();
    p.yield_after_truncate = *rc::gen::arbitrary<bool>();
    const auto r = tk::run_office(p);

    const int failures = r.sold_out + r.read_errors;
    const bool invariant =
        all_exited_zero(r) && r.reports == p.buyers && r.bought >= 1 && r.bought + failures == p.buyers;
    const bool final_in_range =
        r.final_db.kind != tk::ReadKind::kCount || (r.final_db.count >= 0 && r.final_db.count < p.count);
    if (!invariant || !final_in_range) {
      ctx.outcome("a buyer missing, no success, successes + failures != N, or final db out of range",
                  Grade::kForbidden);
      RC_FAIL("unlocked office broke an invariant");
    }
    if (p.barrier_after_read) {
      const bool exact = r.bought == p.buyers && r.read_errors == 0 &&
                         r.final_db.kind == tk::ReadKind::kCount && r.final_db.count == p.count - 1;
      if (!exact) {
        ctx.outcome("barrier after the read: not every buyer bought", Grade::kForbidden);
        RC_FAIL("forced oversell was not exact");
      }
      ctx.outcome("barrier after the read: every buyer bought, the db ends at count - 1", Grade::kAcceptable);
      return;
    }
    if (r.final_db.kind != tk::ReadKind::kCount) {
      ctx.outcome("final db corrupt (overlapping writes)", Grade::kInteresting);
    } else if (r.bought > p.count) {
      ctx.outcome("oversold (successes > count)", Grade::kInteresting);
    } else if (r.read_errors > 0) {
      ctx.outcome("a buyer's read was torn (JSONDecodeError)", Grade::kInteresting);
    } else if (r.final_db.count != p.count - r.bought) {
      ctx.outcome("lost update (final db > count - successes)", Grade::kInteresting);
    } else {
      ctx.outcome("sold exactly count, final db count - successes", Grade::kAcceptable);
    }
  });
}

// search() reads outside the lock while a buyer's write has truncated the
// file and not yet written it: such a read sees an empty file (CPython's
// JSONDecodeError "Expecting value: line 1 column 1 (char 0)") or a partial
// one. Each search is one observation: a whole db is acceptable, a torn read
// interesting (never required), a whole db outside [0, count] forbidden; the
// locked counts stay exact.
RG_CASE("tickets.search_torn_read",
        {.title = "search() outside the lock can read a torn (empty) db file while a buyer writes",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"tickets", "lock", "process", "R"},
         .expectation = racegate::harness::Expectation::kOutcomes,
         .default_trials = 50}) {
  ctx.check([&ctx] {
    tk::OfficeParams p;
    p.buyers = *rc::gen::inRange(2, 11);
    p.count = *rc::gen::inRange(1, p.buyers + 1);
    p.searches = *rc::gen::inRange(1, 21);
    p.yield_after_truncate = *rc::gen::weightedElement<bool>({{3, true}, {1, false}});
    const auto r = tk::run_office(p);
    RC_ASSERT(r.searches.size() == static_cast<std::size_t>(r.reports * p.searches));
    for (const auto& s : r.searches) {
      switch (s.kind) {
        case tk::ReadKind::kCount:
          if (s.count < 0 || s.count > p.count) {
            ctx.outcome("search read a count outside [0, count]", Grade::kForbidden);
            RC_FAIL("search read an impossible count");
          }
          ctx.outcome("search read a whole db", Grade::kAcceptable);
          break;
        case tk::ReadKind::kEmpty:
          ctx.outcome(
              "search read an empty file (JSONDecodeError: Expecting value: line 1 column 1 (char 0))",
              Grade::kInteresting);
          break;
        case tk::ReadKind::kPartial:
          ctx.outcome("search read a partial file", Grade::kInteresting);
          break;
      }
    }
    assert_locked_counts(p, r);
  });
}
