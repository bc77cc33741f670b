// Typed field readers for kilnd's schemas; every error names the field's path.
#include "core/daemon/field_reader.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "core/oci/json_fields.hpp"

namespace kiln::daemon::detail {

using json = nlohmann::json;

static std::string field_message(const std::string& path, const std::string& detail) {
    return path.empty() ? detail : path + ": " + detail;
}

FieldError::FieldError(std::string path, std::string detail, int line)
    : Error(Errc::invalid_argument, field_message(path, detail)),
      path_(std::move(path)),
      detail_(std::move(detail)),
      line_(line) {}

void fail(const std::string& path, const std::string& detail) { throw FieldError(path, detail); }

static bool is_plain_key(std::string_view key) {
    if (key.empty()) return false;
    for (char c : key)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
    return true;
}

std::string join_path(const std::string& path, std::string_view key) {
    if (is_plain_key(key)) return path.empty() ? std::string(key) : path + "." + std::string(key);
    return path + "[" + json(std::string(key)).dump() + "]";
}

std::string index_path(const std::string& path, std::size_t index) {
    return path + "[" + std::to_string(index) + "]";
}

std::string shown(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void wrong_type(const json& value, const std::string& path, const std::string& expected) {
    fail(path, "expected " + expected + ", got " + oci::detail::json_type_name(value));
}

ObjectReader::ObjectReader(const json& value, std::string path, std::initializer_list<const char*> known)
    : value_(value), path_(std::move(path)) {
    if (!value_.is_object()) wrong_type(value_, path_, "an object");
    for (const auto& [key, _] : value_.items()) {
        bool found = false;
        for (const char* k : known) found = found || key == k;
        if (found) continue;
        std::string list;
        for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        fail(join_path(path_, key), "unknown field (known here: " + list + ")");
    }
}

const json* ObjectReader::get(const char* key) const {
    auto it = value_.find(key);
    if (it == value_.end() || it->is_null()) return nullptr;
    return &*it;
}

const json& ObjectReader::require(const char* key) const {
    const json* v = get(key);
    if (!v) fail(path(key), "is required");
    return *v;
}

std::string read_string(const json& value, const std::string& path) {
    if (!value.is_string()) wrong_type(value, path, "a string");
    return value.get<std::string>();
}

std::string read_non_empty_string(const json& value, const std::string& path) {
    std::string s = read_string(value, path);
    if (s.empty()) fail(path, "must not be empty");
    return s;
}

bool read_bool(const json& value, const std::string& path) {
    if (!value.is_boolean()) wrong_type(value, path, "a boolean (true or false)");
    return value.get<bool>();
}

std::int64_t read_int(const json& value, const std::string& path, std::int64_t min, std::int64_t max) {
    if (value.is_number_unsigned()) {
        auto v = value.get<std::uint64_t>();
        if (min > 0 && v < static_cast<std::uint64_t>(min))
            fail(path, std::to_string(v) + " is below the minimum of " + std::to_string(min));
        if (v > static_cast<std::uint64_t>(max))
            fail(path, std::to_string(v) + " is above the maximum of " + std::to_string(max));
        return static_cast<std::int64_t>(v);
    }
    if (!value.is_number_integer()) wrong_type(value, path, "an integer");
    auto v = value.get<std::int64_t>();
    if (v < min) fail(path, std::to_string(v) + " is below the minimum of " + std::to_string(min));
    if (v > max) fail(path, std::to_string(v) + " is above the maximum of " + std::to_string(max));
    return v;
}

double read_number(const json& value, const std::string& path) {
    if (!value.is_number()) wrong_type(value, path, "a number");
    double v = value.get<double>();
    if (!std::isfinite(v)) fail(path, "must be a finite number");
    return v;
}

std::vector<std::string> read_string_array(const json& value, const std::string& path) {
    if (!value.is_array()) wrong_type(value, path, "an array of strings");
    std::vector<std::string> out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) out.push_back(read_string(value[i], index_path(path, i)));
    return out;
}

std::string read_absolute_path(const json& value, const std::string& path) {
    std::string s = read_string(value, path);
    if (s.empty() || s[0] != '/') fail(path, shown(s) + " is not an absolute path");
    if (s.find('\0') != std::string::npos) fail(path, "must not contain a NUL byte");
    return s;
}

// A decimal number without sign or exponent at the start of `text`; its length, 0 when none.
static std::size_t scan_decimal(std::string_view text, double& out) {
    std::size_t n = 0, digits = 0;
    while (n < text.size() && std::isdigit(static_cast<unsigned char>(text[n]))) ++n, ++digits;
    if (n < text.size() && text[n] == '.') {
        ++n;
        while (n < text.size() && std::isdigit(static_cast<unsigned char>(text[n]))) ++n, ++digits;
    }
    if (digits == 0) return 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + n, out, std::chars_format::fixed);
    if (ec != std::errc() || end != text.data() + n) return 0;
    return n;
}

// Seconds, or -1 when `text` is not a duration.
static double parse_duration(std::string_view text) {
    double total = 0;
    bool any = false;
    while (!text.empty()) {
        double number;
        std::size_t n = scan_decimal(text, number);
        if (n == 0) return -1;
        text.remove_prefix(n);
        double unit;
        if (text.starts_with("ms")) {
            unit = 0.001;
            text.remove_prefix(2);
        } else if (!text.empty() && (text[0] == 'h' || text[0] == 'm' || text[0] == 's')) {
            unit = text[0] == 'h' ? 3600 : text[0] == 'm' ? 60 : 1;
            text.remove_prefix(1);
        } else if (text.empty() && !any) {
            unit = 1;  // "10": seconds, as a bare number is
        } else {
            return -1;
        }
        total += number * unit;
        any = true;
    }
    return any && std::isfinite(total) ? total : -1;
}

double read_duration(const json& value, const std::string& path) {
    double seconds;
    if (value.is_string()) {
        seconds = parse_duration(value.get_ref<const std::string&>());
        if (seconds < 0)
            fail(path, shown(value) + " is not a duration: use seconds (10) or a string like \"10s\", "
                                       "\"1m30s\", \"500ms\"");
    } else if (value.is_number()) {
        seconds = read_number(value, path);
        if (seconds < 0) fail(path, "must not be negative");
    } else {
        wrong_type(value, path, "seconds or a duration string like \"10s\"");
    }
    return seconds;
}

// Bytes, or nothing when `text` is not a size; may be above every integer type.
static std::optional<double> parse_size(std::string_view text) {
    double number;
    std::size_t n = scan_decimal(text, number);
    if (n == 0) return std::nullopt;
    std::string suffix;
    for (char c : text.substr(n)) suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    double unit;
    if (suffix.empty() || suffix == "b") {
        unit = 1;
    } else {
        static constexpr std::string_view letters = "kmg";
        auto power = letters.find(suffix[0]);
        std::string_view rest = std::string_view(suffix).substr(1);
        if (power == std::string_view::npos || !(rest.empty() || rest == "b" || rest == "ib"))
            return std::nullopt;
        unit = std::ldexp(1.0, 10 * static_cast<int>(power + 1));
    }
    return std::floor(number * unit);
}

std::int64_t read_size(const json& value, const std::string& path) {
    if (value.is_string()) {
        auto bytes = parse_size(value.get_ref<const std::string&>());
        if (!bytes)
            fail(path, shown(value) + " is not a size: use bytes (33554432) or a string like \"32m\" "
                                       "(suffixes b, k, m, g: powers of 1024)");
        // 2^63 itself is representable as a double but not as an int64.
        if (*bytes >= 9223372036854775808.0) fail(path, shown(value) + " is too large");
        return static_cast<std::int64_t>(*bytes);
    }
    if (value.is_number_integer()) return read_int(value, path, 0, std::numeric_limits<std::int64_t>::max());
    wrong_type(value, path, "a whole number of bytes or a size string like \"32m\"");
}

}  // namespace kiln::daemon::detail
