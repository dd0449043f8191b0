// Reading and writing the exploration configuration string.
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>

#include "racegate/harness/explore.h"

namespace racegate::explore {
namespace {

bool read_uint(std::string_view text, std::uint64_t min, std::uint64_t max, std::uint64_t& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end && out >= min && out <= max;
}

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kNoise:
      return "noise";
    case Mode::kPct:
      return "pct";
    case Mode::kOff:
      break;
  }
  return "off";
}

}  // namespace

ParseResult parse_config(std::string_view text) {
  Config config;
  ParseResult result;
  auto fail = [&](std::string_view item, const char* why) {
    result.error = "'" + std::string(item) + "': " + why;
    return result;
  };
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) return fail(item, "expected key=value");
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    std::uint64_t n = 0;
    if (key == "mode") {
      if (value == "off") {
        config.mode = Mode::kOff;
      } else if (value == "noise") {
        config.mode = Mode::kNoise;
      } else if (value == "pct") {
        config.mode = Mode::kPct;
      } else {
        return fail(item, "mode is off, noise or pct");
      }
    } else if (key == "seed") {
      if (!read_uint(value, 0, UINT64_MAX, n)) return fail(item, "seed is an unsigned integer");
      config.seed = n;
    } else if (key == "depth") {
      if (!read_uint(value, 1, 16, n)) return fail(item, "depth is an integer from 1 to 16");
      config.depth = static_cast<int>(n);
    } else if (key == "steps") {
      if (!read_uint(value, 1, 1'000'000'000, n)) return fail(item, "steps is an integer from 1 to 1e9");
      config.steps = n;
    } else if (key == "level") {
      if (!read_uint(value, 1, 10, n)) return fail(item, "level is an integer from 1 to 10");
      config.level = static_cast<int>(n);
    } else if (key == "slice_ms") {
      if (!read_uint(value, 1, 60'000, n)) return fail(item, "slice_ms is an integer from 1 to 60000");
      config.slice_ms = static_cast<unsigned>(n);
    } else {
      return fail(item, "unknown key (mode, seed, depth, steps, level, slice_ms)");
    }
  }
  result.config = config;
  return result;
}

std::string to_string(const Config& c) {
  std::string out = std::string("mode=") + mode_name(c.mode) + ",seed=" + std::to_string(c.seed);
  if (c.mode == Mode::kPct) {
    out += ",depth=" + std::to_string(c.depth) + ",steps=" + std::to_string(c.steps) +
           ",slice_ms=" + std::to_string(c.slice_ms);
  } else if (c.mode == Mode::kNoise) {
    out += ",level=" + std::to_string(c.level);
  }
  return out;
}

std::string stats_json(const Stats& s, const Config& c, std::string_view outcome) {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(s.trace_hash));
  auto field = [](const char* key, std::uint64_t v) {
    return std::string("\"") + key + "\": " + std::to_string(v) + ", ";
  };
  // `outcome` and the configuration are the engine's own words: no escaping needed.
  return "{\"config\": \"" + to_string(c) + "\", \"mode\": \"" + mode_name(c.mode) + "\", " +
         field("seed", c.seed) + field("depth", static_cast<std::uint64_t>(c.depth)) +
         field("steps_param", c.steps) + field("threads", s.threads) + field("steps", s.steps) +
         field("slice_preemptions", s.slice_preemptions) + field("timeouts_fired", s.timeouts_fired) +
         field("noise_delays", s.noise_delays) + field("sanitized_starts", s.sanitized_starts) +
         field("kernel_waits", s.kernel_waits) + "\"trace_hash\": \"" + hash + "\", \"outcome\": \"" +
         std::string(outcome) + "\"}\n";
}

}  // namespace racegate::explore
