// Reading kilnd's schemas (pods, kiln.yaml) from a JSON tree: typed readers whose errors start with
// the field's path, so that one reader serves REST bodies and YAML files alike.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sys/error.hpp"

namespace kiln::daemon::detail {

// A bad field. what() is "<path>: <detail>"; the YAML front ends add the line from the path.
class FieldError : public Error {
public:
    FieldError(std::string path, std::string detail, int line = 0);
    const std::string& path() const noexcept { return path_; }
    const std::string& detail() const noexcept { return detail_; }
    // Set when the error is about a place the path cannot name (a duplicate key).
    int line() const noexcept { return line_; }

private:
    std::string path_;
    std::string detail_;
    int line_;
};

[[noreturn]] void fail(const std::string& path, const std::string& detail);

// "a.b", "a[2]"; a key that is not a plain word is quoted: env["A.B"].
std::string join_path(const std::string& path, std::string_view key);
std::string index_path(const std::string& path, std::size_t index);

// A value as it reads in a message: strings in JSON quotes, the rest as JSON.
std::string shown(const nlohmann::json& value);
[[noreturn]] void wrong_type(const nlohmann::json& value, const std::string& path,
                             const std::string& expected);

// An object whose keys must all be known: the constructor rejects any other key, so a misspelt
// field is reported as such rather than as a missing one.
class ObjectReader {
public:
    ObjectReader(const nlohmann::json& value, std::string path, std::initializer_list<const char*> known);

    // nullptr when the key is absent or null: null stands for "not set", as an empty YAML value does.
    const nlohmann::json* get(const char* key) const;
    const nlohmann::json& require(const char* key) const;
    std::string path(const char* key) const { return join_path(path_, key); }
    const std::string& path() const { return path_; }

private:
    const nlohmann::json& value_;
    std::string path_;
};

std::string read_string(const nlohmann::json& value, const std::string& path);
std::string read_non_empty_string(const nlohmann::json& value, const std::string& path);
bool read_bool(const nlohmann::json& value, const std::string& path);
std::int64_t read_int(const nlohmann::json& value, const std::string& path, std::int64_t min,
                      std::int64_t max);
// A finite number; integers and fractions alike.
double read_number(const nlohmann::json& value, const std::string& path);
std::vector<std::string> read_string_array(const nlohmann::json& value, const std::string& path);
// An absolute path: begins with '/', holds no NUL.
std::string read_absolute_path(const nlohmann::json& value, const std::string& path);

// Seconds, >= 0: a number, or a string of <number><unit> groups with units h, m, s, ms ("1m30s");
// a string of digits alone is seconds too.
double read_duration(const nlohmann::json& value, const std::string& path);
// Bytes, >= 0: an integer, or a string <number><suffix> with suffixes b, k, m, g (powers of 1024, any
// case, "kb"/"kib" too); a fraction is rounded down to whole bytes ("1.5k" = 1536).
std::int64_t read_size(const nlohmann::json& value, const std::string& path);

}  // namespace kiln::daemon::detail
