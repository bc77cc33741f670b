// YAML as JSON: a YAML document becomes the JSON value the REST API would have sent, plus a map from
// each value's path to its line, so the JSON schema readers also serve YAML files and their errors
// can still name lines.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace YAML {
class Node;
}

namespace kiln::daemon::detail {

class SourceMap {
public:
    void set_line(const std::string& path, int line) { lines_[path] = line; }
    // The line of `path`, or of its nearest ancestor that has one (a missing field is reported at
    // the object that lacks it); 0 when there is none.
    int line_of(const std::string& path) const;

    // Plain YAML scalars read as numbers or booleans keep their text, for fields that take them as
    // strings ("VERSION: 1.10" is "1.10", not "1.1").
    void set_text(const std::string& path, std::string text) { texts_[path] = std::move(text); }
    const std::string* text_of(const std::string& path) const;

private:
    std::map<std::string, int> lines_;
    std::map<std::string, std::string> texts_;
};

// Converts `node`, found at `path`, with the YAML 1.2 core schema: a quoted scalar is a string; a
// plain one is null (~, null, empty), a boolean (true, false), an integer (12, 0o14, 0xC), a number
// (1.5, 1e3) or else a string. Map keys are strings. A duplicate key, a key that is not a scalar,
// nesting deeper than 64 levels and more than 100000 values (aliases can multiply them) are
// FieldErrors.
nlohmann::json yaml_to_json(const YAML::Node& node, const std::string& path, SourceMap& source);

// "<source>:<line>: <message>", or "<source>: <message>" without a line: how a YAML file's
// errors read.
std::string located(const std::string& source, int line, const std::string& message);

// The line of a YAML node (1-based), 0 when yaml-cpp has none.
int yaml_line(const YAML::Node& node);

}  // namespace kiln::daemon::detail
