// One field list per type drives both directions: reading JSON with the path of every bad field
// in the error, and writing JSON that omits what is unset. Shared by the runtime-spec and
// (later) image-spec types.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sys/error.hpp"

namespace kiln::oci::detail {

using json = nlohmann::json;

inline std::string json_type_name(const json& j) {
    switch (j.type()) {
        case json::value_t::null: return "null";
        case json::value_t::object: return "an object";
        case json::value_t::array: return "an array";
        case json::value_t::string: return "a string";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "an integer";
        case json::value_t::number_float: return "a fractional number";
        default: return "an unsupported value";
    }
}

inline std::string join_path(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

[[noreturn]] inline void bad_field(const std::string& path, const std::string& what) {
    invalid(path + ": " + what);
}

[[noreturn]] inline void wrong_type(const json& j, const std::string& path, const char* expected) {
    bad_field(path, std::string("expected ") + expected + ", got " + json_type_name(j));
}

// Scalars.
inline void read(const json& j, const std::string& path, std::string& out) {
    if (!j.is_string()) wrong_type(j, path, "a string");
    out = j.get_ref<const std::string&>();
}

inline void read(const json& j, const std::string& path, bool& out) {
    if (!j.is_boolean()) wrong_type(j, path, "a boolean");
    out = j.get<bool>();
}

template <class T>
    requires(std::integral<T> && !std::same_as<T, bool>)
void read(const json& j, const std::string& path, T& out) {
    if (j.is_number_unsigned()) {
        uint64_t v = j.get<uint64_t>();
        if (v > static_cast<uint64_t>(std::numeric_limits<T>::max()))
            bad_field(path, std::to_string(v) + " is out of range");
        out = static_cast<T>(v);
    } else if (j.is_number_integer()) {
        int64_t v = j.get<int64_t>();
        if constexpr (std::is_unsigned_v<T>) {
            if (v < 0) bad_field(path, "expected an unsigned integer, got " + std::to_string(v));
            if (static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
                bad_field(path, std::to_string(v) + " is out of range");
        } else {
            if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
                v > static_cast<int64_t>(std::numeric_limits<T>::max()))
                bad_field(path, std::to_string(v) + " is out of range");
        }
        out = static_cast<T>(v);
    } else {
        wrong_type(j, path, std::is_unsigned_v<T> ? "an unsigned integer" : "an integer");
    }
}

template <class T>
void read(const json& j, const std::string& path, std::optional<T>& out);
template <class T>
void read(const json& j, const std::string& path, std::vector<T>& out);
template <class T>
void read(const json& j, const std::string& path, std::map<std::string, T>& out);

struct Reader;
struct Writer;

// Types with a field list (declared before Reader and Writer use them).
template <class T>
    requires requires(Reader& r, T& t) { fields(r, t); }
void read(const json& j, const std::string& path, T& out);
template <class T>
    requires requires(Writer& w, const T& t) { fields(w, t); }
json write(const T& v);

// Types with a field list declare `fields` through this macro.
#define KILN_JSON_FIELDS(Type)                                  \
    template <class V, class S>                                 \
        requires std::same_as<std::remove_const_t<S>, Type>     \
    void fields(V& v, S& s)

struct Reader {
    const json& j;
    const std::string& path;

    template <class T>
    void operator()(const char* key, T& field) const {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) return;
        read(*it, join_path(path, key), field);
    }
    template <class T>
    void req(const char* key, T& field) const {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) bad_field(join_path(path, key), "is required");
        read(*it, join_path(path, key), field);
    }
};

template <class T>
    requires requires(Reader& r, T& t) { fields(r, t); }
void read(const json& j, const std::string& path, T& out) {
    if (!j.is_object()) wrong_type(j, path, "an object");
    Reader r{j, path};
    fields(r, out);
}

template <class T>
void read(const json& j, const std::string& path, std::optional<T>& out) {
    T v{};
    read(j, path, v);
    out = std::move(v);
}

template <class T>
void read(const json& j, const std::string& path, std::vector<T>& out) {
    if (!j.is_array()) wrong_type(j, path, "an array");
    out.clear();
    out.resize(j.size());
    for (size_t i = 0; i < j.size(); ++i) read(j[i], path + "[" + std::to_string(i) + "]", out[i]);
}

template <class T>
void read(const json& j, const std::string& path, std::map<std::string, T>& out) {
    if (!j.is_object()) wrong_type(j, path, "an object");
    out.clear();
    for (auto it = j.begin(); it != j.end(); ++it) read(it.value(), join_path(path, it.key()), out[it.key()]);
}

// Writing.
inline json write(const std::string& v) { return v; }
inline json write(bool v) { return v; }
template <class T>
    requires(std::integral<T> && !std::same_as<T, bool>)
json write(T v) {
    return v;
}
template <class T>
json write(const std::optional<T>& v);
template <class T>
json write(const std::vector<T>& v);
template <class T>
json write(const std::map<std::string, T>& v);

template <class T>
bool is_unset(const T&) {
    return false;
}
inline bool is_unset(const std::string& v) { return v.empty(); }
inline bool is_unset(bool v) { return !v; }
template <class T>
bool is_unset(const std::optional<T>& v) {
    return !v.has_value();
}
template <class T>
bool is_unset(const std::vector<T>& v) {
    return v.empty();
}
template <class T>
bool is_unset(const std::map<std::string, T>& v) {
    return v.empty();
}

struct Writer {
    json& j;
    template <class T>
    void operator()(const char* key, const T& field) const {
        if (!is_unset(field)) j[key] = write(field);
    }
    template <class T>
    void req(const char* key, const T& field) const {
        j[key] = write(field);
    }
};

template <class T>
    requires requires(Writer& w, const T& t) { fields(w, t); }
json write(const T& v) {
    json o = json::object();
    Writer w{o};
    fields(w, v);
    return o;
}

template <class T>
json write(const std::optional<T>& v) {
    return v ? write(*v) : json();
}
template <class T>
json write(const std::vector<T>& v) {
    json a = json::array();
    for (const auto& x : v) a.push_back(write(x));
    return a;
}
template <class T>
json write(const std::map<std::string, T>& v) {
    json o = json::object();
    for (const auto& [k, x] : v) o[k] = write(x);
    return o;
}

}  // namespace kiln::oci::detail
