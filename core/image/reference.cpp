// Checking and normalizing image names.
#include "core/image/reference.hpp"

#include <string_view>
#include <vector>

#include "core/sys/error.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// A path component: lowercase alphanumerics joined by '.', '_', '__' or runs of '-'.
bool valid_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
    for (std::size_t i = 0; i < c.size(); ++i) {
        char ch = c[i];
        if (is_lower_alnum(ch) || ch == '-') continue;
        if (ch == '.' && is_lower_alnum(c[i + 1])) continue;
        if (ch == '_') {
            if (c[i + 1] == '_') ++i;
            if (is_lower_alnum(c[i + 1])) continue;
        }
        return false;
    }
    return true;
}

// A registry host: alphanumerics, '.' and '-', with an optional numeric port.
bool valid_domain(std::string_view d) {
    auto colon = d.find(':');
    std::string_view host = d.substr(0, colon);
    if (host.empty() || !is_alnum(host.front()) || !is_alnum(host.back())) return false;
    for (char ch : host)
        if (!is_alnum(ch) && ch != '.' && ch != '-') return false;
    if (colon == std::string_view::npos) return true;
    std::string_view port = d.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char ch : port)
        if (ch < '0' || ch > '9') return false;
    return true;
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > kMaxTagLength) return false;
    if (!is_alnum(t.front()) && t.front() != '_') return false;
    for (char ch : t)
        if (!is_alnum(ch) && ch != '_' && ch != '.' && ch != '-') return false;
    return true;
}

}  // namespace

Reference parse_reference(const std::string& ref) {
    auto bad = [&](const std::string& why) -> void { invalid("image name \"" + ref + "\": " + why); };
    if (ref.empty()) bad("is empty");
    if (ref.find('@') != std::string::npos) bad("a digest reference cannot name an imported image");

    Reference out;
    auto slash = ref.rfind('/');
    auto colon = ref.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        out.name = ref.substr(0, colon);
        out.tag = ref.substr(colon + 1);
        if (!valid_tag(out.tag)) bad("tag \"" + out.tag + "\" is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    } else {
        out.name = ref;
        out.tag = "latest";
    }
    if (out.name.empty()) bad("has no name");
    if (out.name.size() > kMaxNameLength) bad("name is longer than " + std::to_string(kMaxNameLength));

    std::vector<std::string_view> comps;
    std::string_view rest = out.name;
    for (;;) {
        auto s = rest.find('/');
        comps.push_back(rest.substr(0, s));
        if (s == std::string_view::npos) break;
        rest.remove_prefix(s + 1);
    }
    std::size_t first = 0;
    // As in the distribution grammar, the first of several components is a registry host when it
    // looks like one.
    if (comps.size() > 1 && (comps[0].find_first_of(".:") != std::string_view::npos || comps[0] == "localhost")) {
        if (!valid_domain(comps[0])) bad("\"" + std::string(comps[0]) + "\" is not a valid registry host");
        first = 1;
    }
    for (std::size_t i = first; i < comps.size(); ++i)
        if (!valid_component(comps[i]))
            bad("\"" + std::string(comps[i]) + "\" is not a valid name component (lowercase letters, digits, "
                "and '.', '_', '-' between them)");
    return out;
}

}  // namespace kiln::image
