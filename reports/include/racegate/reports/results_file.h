// racegate/reports/results_file.h — reading and writing results.jsonl, and
// reading report.json back, for `racegate report` and `racegate merge`.
//
// results.jsonl: a header line {"schema": "racegate-results/1", "run": {...}}
// then one UnitResult per line. report.json: one document of schema
// racegate-run/1 (the json reporter's output). Both are read strictly: a line
// that is not JSON, or not of the schema, is an InputError "FILE:LINE: what",
// except an unterminated last line of results.jsonl (a run killed while
// writing it), which is skipped with a warning.
//
// Lines are written with invalid UTF-8 replaced by U+FFFD, so that a case's
// binary output or a symbol name that is not UTF-8 never stops a run.
#pragma once

#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "racegate/reports/baseline.h"  // InputError
#include "racegate/reports/run.h"

namespace racegate::reports {

// The header line of results.jsonl (with its '\n').
std::string results_header_line(const RunInfo& info);
// One unit's line of results.jsonl (with its '\n').
std::string results_unit_line(const UnitResult& unit);

// Parses the text of a results.jsonl or report.json named `name` (for the
// messages). Warnings (a skipped unterminated last line) are appended to
// `warnings`. Throws InputError.
Run parse_results_text(std::string_view text, const std::string& name, std::vector<std::string>& warnings);

// The start of `text` (at most `max` bytes) with every byte that is not
// printable ASCII as \xNN, for quoting bad input in a message (a NUL would
// cut the message short, an ESC would reach the terminal).
std::string printable_excerpt(std::string_view text, std::size_t max = 60);

// 1-based line of byte `offset` in `text` (for "FILE:LINE" messages).
int line_of_offset(std::string_view text, std::size_t offset);

// The line of the JSON error `e` in `text` (the byte of a parse error, the
// number of a number overflow), 1 when it cannot be told.
int line_of_json_error(std::string_view text, const std::exception& e);
// `text` parsed as a JSON object whose "schema" is `schema`; otherwise an
// InputError "NAME:LINE: not valid JSON (...)" or "NAME:1: not a racegate
// WHAT (expected "schema": "SCHEMA")".
nlohmann::json parse_schema_document(std::string_view text, const std::string& name, const std::string& schema,
                                     const std::string& what);

// Reads and joins the given files (shards); throws InputError.
Run read_results_files(const std::vector<std::filesystem::path>& files, std::vector<std::string>& warnings);

}  // namespace racegate::reports
