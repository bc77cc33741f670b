// api/openapi.yaml held against a live kilnd: every operation the file lists is exercised with
// valid and invalid requests, each answer's status must be one the operation documents and its
// body must match the documented schema, and each path's methods must be the server's. A route
// removed from the server, an undocumented status or an undocumented field fails here.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <regex>
#include <set>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "tests/integration/daemon/daemon_harness.hpp"

#ifdef KILN_ROUTER_HAS_ROUTES
#include "api/server/routes/routes.hpp"
#include "core/daemon/daemon.hpp"
#endif

namespace kiln::testing {
namespace {

using nlohmann::json;

const char* const kContractPath = KILN_SOURCE_DIR "/api/openapi.yaml";
const std::vector<std::string> kMethods = {"get",     "put",  "post",  "delete",
                                           "options", "head", "patch", "trace"};

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> segments;
    std::size_t start = 1;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        segments.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return segments;
}

bool is_capture(const std::string& segment) {
    return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// A response as the checks see it, whichever way it came.
struct Answer {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
    bool streamed = false;  // the body is not (all) here: check the headers only

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
    // "text/plain" of "text/plain; charset=utf-8".
    std::string media_type() const {
        std::string t = header("content-type");
        t = t.substr(0, t.find(';'));
        while (!t.empty() && t.back() == ' ')
            t.pop_back();
        return t;
    }
};

Answer answer_of(const api::ClientResult& r) {
    return Answer{r.status, r.headers, r.body, false};
}

// The file: its operations, $ref resolution, and a JSON Schema check of the OpenAPI 3.0 subset
// it uses (type, enum, pattern, min/max, items, properties, required, additionalProperties,
// nullable, allOf, oneOf, anyOf).
class Contract {
public:
    struct Operation {
        std::string method;  // "GET"
        std::string path;    // the template, "/v1/pods/{name}"
        YAML::Node node;
        bool websocket = false;
        std::set<int> statuses;

        std::string name() const { return method + " " + path; }
        // As the router registers it: a WebSocket, a streamed body, or a plain handler.
        std::string kind() const {
            if (websocket) return "websocket";
            const YAML::Node ok = node["responses"]["200"];
            if (ok && ok["content"] &&
                (ok["content"]["text/plain"] || ok["content"]["text/event-stream"] ||
                 ok["content"]["application/x-ndjson"]))
                return "stream";
            return "plain";
        }
    };

    Contract() : root_(YAML::LoadFile(kContractPath)) {
        for (const auto& path : root_["paths"]) {
            for (const auto& method : kMethods) {
                const YAML::Node op = path.second[method];
                if (!op) continue;
                Operation o{upper(method), path.first.as<std::string>(), op, false, {}};
                o.websocket = static_cast<bool>(op["x-kiln-websocket"]);
                for (const auto& r : op["responses"])
                    o.statuses.insert(std::stoi(r.first.as<std::string>()));
                ops_.push_back(std::move(o));
            }
        }
    }

    const YAML::Node& root() const { return root_; }
    const std::vector<Operation>& operations() const { return ops_; }

    // The operation a request reaches, chosen as the router does: among the templates that fit
    // the path, at the first segment where two differ a literal wins; the first with the method.
    const Operation* find(const std::string& method, const std::string& path) const {
        auto candidates = templates_for(path);
        for (const auto& t : candidates)
            for (const auto& op : ops_)
                if (op.path == t && op.method == method) return &op;
        return nullptr;
    }
    // The methods of every template that fits `path`: what a 405's Allow should list.
    std::set<std::string> methods_for(const std::string& path) const {
        std::set<std::string> out;
        for (const auto& t : templates_for(path))
            for (const auto& op : ops_)
                if (op.path == t) out.insert(op.method);
        return out;
    }

    // Follows $ref ("#/a/b/c") until a node that is not one.
    YAML::Node resolve(const YAML::Node& node) const {
        if (!node.IsMap() || !node["$ref"]) return node;
        const std::string ref = node["$ref"].as<std::string>();
        if (ref.rfind("#/", 0) != 0) throw std::runtime_error("$ref " + ref + " is not local");
        return resolve(at_pointer(root_, ref, 2));
    }

    YAML::Node response(const Operation& op, int status) const {
        return resolve(op.node["responses"][std::to_string(status)]);
    }

    // The ways `value` breaks `schema`, each starting with where in the value.
    std::vector<std::string> violations(const json& value, const YAML::Node& schema) const {
        std::vector<std::string> out;
        check(value, schema, "$", out);
        return out;
    }

private:
    // The node at the JSON pointer `ref` from offset `start` on; never assigns a YAML::Node,
    // which would rewrite the tree it refers to.
    static YAML::Node at_pointer(const YAML::Node& from, const std::string& ref,
                                 std::size_t start) {
        std::size_t end = ref.find('/', start);
        if (end == std::string::npos) end = ref.size();
        const YAML::Node next = from[ref.substr(start, end - start)];
        if (!next) throw std::runtime_error("$ref " + ref + " does not resolve");
        return end == ref.size() ? next : at_pointer(next, ref, end + 1);
    }

    std::vector<std::string> templates_for(const std::string& path) const {
        const auto segments = split_path(path);
        std::vector<std::string> fits;
        for (const auto& op : ops_) {
            if (std::find(fits.begin(), fits.end(), op.path) != fits.end()) continue;
            auto t = split_path(op.path);
            if (t.size() != segments.size()) continue;
            bool match = true;
            for (std::size_t i = 0; i < t.size() && match; ++i)
                match = is_capture(t[i]) || t[i] == segments[i];
            if (match) fits.push_back(op.path);
        }
        std::stable_sort(fits.begin(), fits.end(), [](const std::string& a, const std::string& b) {
            auto sa = split_path(a), sb = split_path(b);
            for (std::size_t i = 0; i < sa.size(); ++i)
                if (is_capture(sa[i]) != is_capture(sb[i])) return !is_capture(sa[i]);
            return false;
        });
        return fits;
    }

    static bool scalar_equals(const json& value, const YAML::Node& scalar) {
        const std::string s = scalar.Scalar();
        if (value.is_string()) return value.get<std::string>() == s;
        if (value.is_boolean())
            return (s == "true") == value.get<bool>() && (s == "true" || s == "false");
        if (value.is_number()) return value.dump() == s;
        return false;
    }

    static bool type_is(const json& v, const std::string& type) {
        if (type == "object") return v.is_object();
        if (type == "array") return v.is_array();
        if (type == "string") return v.is_string();
        if (type == "integer") return v.is_number_integer();
        if (type == "number") return v.is_number();
        if (type == "boolean") return v.is_boolean();
        return false;
    }

    void check(const json& v, const YAML::Node& schema_in, const std::string& at,
               std::vector<std::string>& out) const {
        const YAML::Node s = resolve(schema_in);
        if (!s.IsMap()) {
            out.push_back(at + ": the schema is not a map");
            return;
        }
        if (v.is_null() && s["nullable"] && s["nullable"].as<bool>()) return;
        if (const YAML::Node all = s["allOf"])
            for (const auto& sub : all)
                check(v, sub, at, out);
        if (const YAML::Node one = s["oneOf"]) {
            int passing = 0;
            std::string why;
            for (const auto& sub : one) {
                std::vector<std::string> errors;
                check(v, sub, at, errors);
                if (errors.empty())
                    ++passing;
                else if (why.empty())
                    why = errors.front();
            }
            if (passing != 1)
                out.push_back(at + ": matches " + std::to_string(passing) + " of oneOf" +
                              (why.empty() ? "" : " (" + why + ")"));
        }
        if (const YAML::Node any = s["anyOf"]) {
            bool passing = false;
            for (const auto& sub : any) {
                std::vector<std::string> errors;
                check(v, sub, at, errors);
                passing = passing || errors.empty();
            }
            if (!passing) out.push_back(at + ": matches none of anyOf");
        }
        if (const YAML::Node type = s["type"]) {
            if (!type_is(v, type.as<std::string>())) {
                out.push_back(at + ": expected " + type.as<std::string>() + ", got " + v.dump());
                return;
            }
        }
        if (const YAML::Node values = s["enum"]) {
            bool found = false;
            for (const auto& e : values)
                found = found || scalar_equals(v, e);
            if (!found) out.push_back(at + ": " + v.dump() + " is not in the enum");
        }
        if (v.is_string()) {
            const auto& text = v.get_ref<const std::string&>();
            if (s["minLength"] && text.size() < s["minLength"].as<std::size_t>())
                out.push_back(at + ": too short");
            if (s["maxLength"] && text.size() > s["maxLength"].as<std::size_t>())
                out.push_back(at + ": too long");
            if (s["pattern"] &&
                !std::regex_search(text, std::regex(s["pattern"].as<std::string>())))
                out.push_back(at + ": " + v.dump() + " does not match " +
                              s["pattern"].as<std::string>());
        }
        if (v.is_number()) {
            const double n = v.get<double>();
            const bool exclusive = s["exclusiveMinimum"] && s["exclusiveMinimum"].as<bool>();
            if (s["minimum"] &&
                (exclusive ? n <= s["minimum"].as<double>() : n < s["minimum"].as<double>()))
                out.push_back(at + ": " + v.dump() + " is below the minimum");
            if (s["maximum"] && n > s["maximum"].as<double>())
                out.push_back(at + ": " + v.dump() + " is above the maximum");
        }
        if (v.is_array()) {
            if (s["minItems"] && v.size() < s["minItems"].as<std::size_t>())
                out.push_back(at + ": too few items");
            if (const YAML::Node items = s["items"])
                for (std::size_t i = 0; i < v.size(); ++i)
                    check(v[i], items, at + "[" + std::to_string(i) + "]", out);
        }
        if (v.is_object()) {
            if (const YAML::Node required = s["required"])
                for (const auto& r : required)
                    if (!v.contains(r.as<std::string>()))
                        out.push_back(at + ": " + r.as<std::string>() + " is missing");
            const YAML::Node properties = s["properties"];
            const YAML::Node additional = s["additionalProperties"];
            for (const auto& [key, item] : v.items()) {
                if (properties && properties[key]) {
                    check(item, properties[key], at + "." + key, out);
                } else if (additional && additional.IsScalar() && !additional.as<bool>()) {
                    out.push_back(at + ": " + key + " is not a documented field");
                } else if (additional && additional.IsMap()) {
                    check(item, additional, at + "." + key, out);
                }
            }
        }
    }

    YAML::Node root_;
    std::vector<Operation> ops_;
};

// Speaks raw HTTP to kilnd on a connection of its own: for what the client hides (a stream's
// headers, a request that never ends, the status of a WebSocket handshake).
Answer raw_exchange(const std::string& socket_path, const std::string& request,
                    int timeout_ms = 10000) {
    Answer a;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    socket_path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        throw std::runtime_error("connect " + socket_path + ": " + std::strerror(errno));
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
        throw std::runtime_error("send: " + std::string(std::strerror(errno)));
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got.find("\r\n\r\n") == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        struct pollfd p {
            fd, POLLIN, 0
        };
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    auto end = got.find("\r\n\r\n");
    if (end == std::string::npos) return a;  // status 0: nothing came
    std::string head = got.substr(0, end);
    a.body = got.substr(end + 4);
    std::size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() >= 12) a.status = std::stoi(status_line.substr(9, 3));
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        std::size_t next = head.find("\r\n", pos);
        if (next == std::string::npos) next = head.size();
        std::string line = head.substr(pos, next - pos);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon), value = line.substr(colon + 1);
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            while (!value.empty() && value.front() == ' ')
                value.erase(0, 1);
            a.headers[name] = value;
        }
        pos = next + 2;
    }
    // A body of known length is read whole; a chunked one (a stream) or a WebSocket is not.
    a.streamed = a.status == 101 || !a.headers.count("content-length");
    if (!a.streamed) {
        const std::size_t length = std::stoul(a.headers["content-length"]);
        while (a.body.size() < length) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            struct pollfd p {
                fd, POLLIN, 0
            };
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            char buf[4096];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            a.body.append(buf, static_cast<std::size_t>(n));
        }
    }
    return a;
}

// A WebSocket handshake's request, written by hand so that a refusal's status is seen as is.
std::string upgrade_request(const std::string& target) {
    return "GET " + target +
           " HTTP/1.1\r\nHost: kilnd\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

// Every exchange goes through here: the status must be documented for the operation the
// request reached, the body must match the documented schema, documented headers must be there.
class Checker {
public:
    Checker(const Contract& contract, Kilnd& k) : contract_(contract), k_(k) {}

    // The answer to a request, checked; and its status must be `expected`.
    Answer expect(int expected, const std::string& method, const std::string& target,
                  const std::optional<json>& body = std::nullopt) {
        return expect_answer(expected, method, target,
                             answer_of(k_.client().request(method, target, body)));
    }
    Answer expect_raw(int expected, const std::string& method, const std::string& target,
                      const std::string& body) {
        return expect_answer(
            expected, method, target,
            answer_of(k_.client().request(method, target, body, "application/json")));
    }
    // A request body that the server refuses (or accepts) should be refused (or accepted) by
    // the documented schema as well.
    Answer expect_body(int expected, const std::string& method, const std::string& target,
                       const json& body, bool schema_allows) {
        const auto* op = contract_.find(method, path_of(target));
        EXPECT_TRUE(op && op->node["requestBody"])
            << method << " " << target << " documents no request body";
        if (op && op->node["requestBody"]) {
            const YAML::Node schema =
                op->node["requestBody"]["content"]["application/json"]["schema"];
            {
                auto errors = contract_.violations(body, schema);
                EXPECT_EQ(errors.empty(), schema_allows)
                    << op->name() << ": the request schema "
                    << (schema_allows ? "refuses" : "allows") << " " << body.dump()
                    << (errors.empty() ? "" : ": " + errors.front());
            }
        }
        return expect(expected, method, target, body);
    }

    Answer expect_answer(int expected, const std::string& method, const std::string& target,
                         const Answer& a) {
        EXPECT_EQ(a.status, expected) << method << " " << target << ": " << a.body;
        check(method, target, a);
        return a;
    }

    void check(const std::string& method, const std::string& target, const Answer& a) {
        const std::string what = method + " " + target;
        const auto* op = contract_.find(method, path_of(target));
        if (!op) {
            ADD_FAILURE() << what << ": no documented operation";
            return;
        }
        seen_[op->name()].insert(a.status);
        if (!op->statuses.count(a.status)) {
            ADD_FAILURE() << what << " answered " << a.status << ", which " << op->name()
                          << " does not document: " << a.body;
            return;
        }
        const YAML::Node response = contract_.response(*op, a.status);
        for (const auto& h : response["headers"]) {
            std::string name = h.first.as<std::string>();
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            EXPECT_FALSE(a.header(name).empty())
                << what << ": the documented header " << name << " is missing";
        }
        const YAML::Node content = response["content"];
        if (!content) {
            EXPECT_TRUE(a.body.empty() || a.streamed)
                << what << " " << a.status << ": a body where none is documented";
            return;
        }
        const std::string type = a.media_type();
        const YAML::Node media = content[type];
        if (!media) {
            ADD_FAILURE() << what << " " << a.status << ": content type \""
                          << a.header("content-type") << "\" is not documented";
            return;
        }
        if (a.streamed) return;
        if (type == "application/json") {
            auto body = json::parse(a.body, nullptr, false);
            if (body.is_discarded()) {
                ADD_FAILURE() << what << " " << a.status << ": the body is not JSON: " << a.body;
                return;
            }
            for (const auto& e : contract_.violations(body, media["schema"]))
                ADD_FAILURE() << what << " " << a.status << ": " << e << "\n  body: " << a.body;
        }
        if (const YAML::Node line_schema = media["x-kiln-line-schema"];
            line_schema && (type == "application/x-ndjson" || target.find("format=json") != std::string::npos)) {
            std::size_t start = 0;
            while (start < a.body.size()) {
                std::size_t end = a.body.find('\n', start);
                if (end == std::string::npos) end = a.body.size();
                auto line = json::parse(a.body.substr(start, end - start), nullptr, false);
                if (line.is_discarded())
                    ADD_FAILURE() << what
                                  << ": a line is not JSON: " << a.body.substr(start, end - start);
                else
                    for (const auto& e : contract_.violations(line, line_schema))
                        ADD_FAILURE() << what << ": line: " << e;
                start = end + 1;
            }
        }
    }

    // Marks a status observed another way (a WebSocket session) for the coverage check.
    void saw(const std::string& method, const std::string& target, int status) {
        check(method, target, Answer{status, {}, {}, true});
    }

    const std::map<std::string, std::set<int>>& seen() const { return seen_; }

    static std::string path_of(const std::string& target) {
        return target.substr(0, target.find('?'));
    }

private:
    const Contract& contract_;
    Kilnd& k_;
    std::map<std::string, std::set<int>> seen_;
};

// What a WebSocket session brought: output per stream, control messages, how it closed.
struct Session {
    std::string out, err;
    std::vector<json> control;
    std::optional<int> exit_code;
    int close_code = 0;
    std::string close_reason;
};

// Runs a WebSocket session: `first` (if any) as a text message, then `binary` and `text` frames
// in turn; reads until the server closes. Every frame must follow x-kiln-websocket.
// With `valid_sends`, what the test sends must follow the documented client messages too.
Session run_session(const Contract& contract, const Contract::Operation& op,
                    api::WebSocketClient& ws,
                    const std::vector<std::pair<bool, std::string>>& sends,
                    bool valid_sends = true) {
    const YAML::Node protocol = op.node["x-kiln-websocket"];
    for (std::size_t i = 0; i < sends.size(); ++i) {
        const auto& [text, data] = sends[i];
        if (!text) {
            ws.send_binary(data);
            continue;
        }
        const YAML::Node schema = i == 0 && protocol["clientFirstMessage"]
                                      ? protocol["clientFirstMessage"]
                                      : protocol["clientText"];
        auto errors = contract.violations(json::parse(data, nullptr, false), schema);
        if (valid_sends)
            for (const auto& e : errors)
                ADD_FAILURE() << op.name() << ": we send " << data << ": " << e;
        ws.send_text(data);
    }
    Session s;
    while (!ws.closed()) {
        auto m = ws.receive(std::chrono::seconds(30));
        if (!m) break;
        if (m->text) {
            auto j = json::parse(m->data, nullptr, false);
            for (const auto& e : contract.violations(j, protocol["serverText"]))
                ADD_FAILURE() << op.name() << ": server text " << m->data << ": " << e;
            EXPECT_FALSE(s.exit_code)
                << op.name() << ": a text message after the exit code: " << m->data;
            if (j.is_object() && j.contains("exit_code") && j["exit_code"].is_number_integer())
                s.exit_code = j["exit_code"].get<int>();
            s.control.push_back(j);
        } else {
            if (m->data.empty()) {
                ADD_FAILURE() << op.name() << ": an empty binary frame";
                continue;
            }
            const char stream = m->data[0];
            EXPECT_TRUE(stream == 1 || stream == 2) << op.name() << ": stream byte " << int(stream);
            (stream == 2 ? s.err : s.out) += m->data.substr(1);
        }
    }
    s.close_code = ws.close_code();
    s.close_reason = ws.close_reason();
    return s;
}

TEST(OpenApi, FileIsAWellFormedContract) {
    Contract contract;
    const YAML::Node& root = contract.root();
    EXPECT_EQ(root["openapi"].as<std::string>(), "3.0.3");
    ASSERT_TRUE(root["servers"] && root["servers"].size() >= 1);
    EXPECT_EQ(root["servers"][0]["x-kiln-socket"].as<std::string>(), "/run/kiln/kiln.sock");
    ASSERT_FALSE(contract.operations().empty());

    // Every $ref anywhere resolves.
    std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& n,
                                                                          const std::string& at) {
        if (n.IsMap()) {
            if (n["$ref"]) {
                try {
                    contract.resolve(n);
                } catch (const std::exception& e) {
                    ADD_FAILURE() << at << ": " << e.what();
                }
            }
            for (const auto& kv : n)
                walk(kv.second, at + "/" + kv.first.as<std::string>());
        } else if (n.IsSequence()) {
            for (std::size_t i = 0; i < n.size(); ++i)
                walk(n[i], at + "[" + std::to_string(i) + "]");
        }
    };
    walk(root, "#");

    std::set<std::string> ids;
    for (const auto& op : contract.operations()) {
        SCOPED_TRACE(op.name());
        ASSERT_TRUE(op.node["operationId"]);
        EXPECT_TRUE(ids.insert(op.node["operationId"].as<std::string>()).second)
            << "operationId used twice";
        EXPECT_EQ(op.path.rfind("/v1/", 0), 0u);

        // Path parameters: declared exactly for the captures of the path.
        std::set<std::string> captures, declared;
        for (const auto& seg : split_path(op.path))
            if (is_capture(seg)) captures.insert(seg.substr(1, seg.size() - 2));
        for (const YAML::Node& params :
             {contract.root()["paths"][op.path]["parameters"], op.node["parameters"]}) {
            for (const auto& p : params) {
                const YAML::Node param = contract.resolve(p);
                EXPECT_TRUE(param["schema"]) << param["name"].as<std::string>() << " has no schema";
                if (param["in"].as<std::string>() == "path") {
                    EXPECT_TRUE(param["required"] && param["required"].as<bool>());
                    declared.insert(param["name"].as<std::string>());
                }
            }
        }
        EXPECT_EQ(captures, declared);

        // Every error has the Error body; every JSON body a schema; statuses are statuses.
        for (int status : op.statuses) {
            EXPECT_TRUE(status >= 100 && status < 600) << status;
            const YAML::Node r = contract.response(op, status);
            EXPECT_TRUE(r["description"]) << status << " has no description";
            if (r["content"] && r["content"]["application/json"]) {
                EXPECT_TRUE(r["content"]["application/json"]["schema"])
                    << status << " has no schema";
            }
            if (status >= 400) {
                ASSERT_TRUE(r["content"] && r["content"]["application/json"])
                    << status << " has no JSON body";
                auto errors = contract.violations(json{{"code", "not_found"}, {"message", "m"}},
                                                  r["content"]["application/json"]["schema"]);
                EXPECT_TRUE(errors.empty()) << status << " is not the Error body";
            }
        }
        if (op.websocket) {
            EXPECT_EQ(op.method, "GET");
            EXPECT_TRUE(op.statuses.count(101) && op.statuses.count(426));
            EXPECT_TRUE(op.node["x-kiln-websocket"]["serverText"]);
        }
        if (op.node["requestBody"]) {
            EXPECT_TRUE(op.node["requestBody"]["content"]["application/json"]["schema"]);
        }
    }

    // The error codes are every category kilnd has.
    const YAML::Node error = contract.resolve(root["components"]["schemas"]["Error"]);
    std::set<std::string> codes;
    for (const auto& c : error["properties"]["code"]["enum"])
        codes.insert(c.as<std::string>());
    for (Errc e : {Errc::not_found, Errc::already_exists, Errc::invalid_argument,
                   Errc::failed_precondition, Errc::internal})
        EXPECT_TRUE(codes.count(std::string(errc_name(e)))) << errc_name(e);
}

// A pod with every field of the schema set.
json full_pod(const std::string& host_dir) {
    return {
        {"name", "full"},
        {"hostname", "full.example"},
        {"containers",
         {{{"name", "main"},
           {"image", "busybox"},
           {"command", {"sh", "-c"}},
           {"args", {"echo out; echo err >&2; exec sleep 1000"}},
           {"env", {{"GREETING", "hello"}, {"RETRIES", 3}, {"DEBUG", true}}},
           {"workingDir", "/tmp"},
           {"user", "0:0"},
           {"tty", false},
           {"stdin", true},
           {"resources", {{"cpus", "0.5"}, {"memory", "32m"}, {"pids", 64}}},
           {"volumeMounts",
            {{{"name", "scratch"}, {"path", "/scratch"}},
             {{"name", "host"}, {"path", "/host"}, {"readOnly", true}}}}},
          {{"name", "side"},
           {"image", "busybox"},
           {"command", {"sleep", "1000"}},
           {"env", {"X=1"}},
           {"user", 0},
           {"resources", {{"cpus", 1}, {"memory", 33554432}}},
           {"volumeMounts", {{{"name", "scratch"}, {"path", "/scratch"}, {"readOnly", false}}}}}}},
        {"volumes",
         {{{"name", "scratch"}}, {{"name", "host"}, {"hostPath", host_dir}, {"readOnly", true}}}},
        {"restartPolicy",
         {{"policy", "on-failure"},
          {"maxRetries", 3},
          {"backoff", {{"initial", "500ms"}, {"max", "1m"}}}}},
        {"stopGracePeriod", "2s"},
        {"sharePid", true},
        {"networks", {"none"}},
        {"isolators", json::array()}};
}

TEST(OpenApi, EveryOperationAnswersAsDocumented) {
    KILN_REQUIRE_ROOT();
    Contract contract;
    // A short request timeout, so that the 408 of a request that never ends comes quickly.
    Kilnd k("api:\n  requestTimeout: 2s\n");
    Checker api(contract, k);
    auto& c = k.client();

    // --- system ------------------------------------------------------------------------------
    api.expect(200, "GET", "/v1/health");
    api.expect(200, "GET", "/v1/info");

    // --- images ------------------------------------------------------------------------------
    const std::string layout = busybox_layout();
    api.expect(200, "GET", "/v1/images");
    api.expect_raw(400, "POST", "/v1/images/import", "{\"path\":");
    api.expect_body(400, "POST", "/v1/images/import",
                    json{{"path", layout}, {"tag", "x"}, {"colour", "red"}}, false);
    api.expect_body(400, "POST", "/v1/images/import", json{{"path", "relative"}, {"tag", "x"}},
                    false);
    api.expect_body(400, "POST", "/v1/images/import", json{{"path", layout}}, false);
    api.expect_body(400, "POST", "/v1/images/import",
                    json{{"path", layout}, {"tag", "Not A Name!"}}, true);
    api.expect_body(404, "POST", "/v1/images/import",
                    json{{"path", "/nonexistent/oci"}, {"tag", "x"}}, true);
    auto image = json::parse(api.expect_body(201, "POST", "/v1/images/import",
                                             json{{"path", layout}, {"tag", "busybox"}}, true)
                                 .body);
    api.expect_body(201, "POST", "/v1/images/import", json{{"path", layout}, {"tag", "spare:1"}},
                    true);

    // --- build, export, prune -----------------------------------------------------------------
    {
        TempDir work("kiln-openapi-images");
        std::string root = work.path() + "/rootfs";
        sh("mkdir -p " + root + "/bin && cp /bin/busybox " + root + "/bin/");
        api.expect_body(400, "POST", "/v1/images/build", json{{"fromDir", "relative"}, {"tag", "built:1"}}, false);
        api.expect_body(400, "POST", "/v1/images/build", json{{"fromDir", root}, {"tag", "built:1"}, {"config", {{"Cmd", 5}}}},
                        true);
        api.expect_body(404, "POST", "/v1/images/build", json{{"fromDir", root + "/none"}, {"tag", "built:1"}}, true);
        api.expect_body(201, "POST", "/v1/images/build",
                        json{{"fromDir", root}, {"tag", "built:1"}, {"config", {{"Cmd", {"/bin/busybox", "true"}}}}}, true);
        api.expect_body(400, "POST", "/v1/images/export", json{{"reference", "built:1"}}, false);
        api.expect_body(400, "POST", "/v1/images/export",
                        json{{"reference", "built:1"}, {"path", work.path() + "/x"}, {"format", "zip"}}, false);
        api.expect_body(404, "POST", "/v1/images/export", json{{"reference", "none:1"}, {"path", work.path() + "/x"}}, true);
        api.expect_body(201, "POST", "/v1/images/export", json{{"reference", "built:1"}, {"path", work.path() + "/x"}}, true);
        api.expect_body(412, "POST", "/v1/images/export", json{{"reference", "built:1"}, {"path", work.path() + "/x"}}, true);
        api.expect_raw(400, "POST", "/v1/images/prune", "[]");
        api.expect(200, "POST", "/v1/images/prune");
    }

    // --- plugins (kiln's isolators, from the build's lib/kiln/plugins) ------------------------
    EXPECT_GE(json::parse(api.expect(200, "GET", "/v1/plugins").body).size(), 5u);
    api.expect(200, "GET", "/v1/plugins/capabilities");
    EXPECT_EQ(json::parse(api.expect(200, "GET", "/v1/networks").body)[0]["name"], "default");
    api.expect(200, "GET", "/v1/plugins/cni");  // disabled, but found and listed
    api.expect(404, "GET", "/v1/plugins/no-such-plugin");

    // --- pull and registry credentials (no registry listens on 127.0.0.1:1) -------------------
    api.expect_body(400, "POST", "/v1/images/pull", json{{"reference", "Not A Ref"}}, true);
    api.expect_body(400, "POST", "/v1/images/pull", json{{"ref", "x"}}, false);
    api.expect_body(400, "POST", "/v1/images/pull", json{{"reference", "x"}, {"platform", "linux"}}, false);
    {
        auto pulled = api.expect_body(200, "POST", "/v1/images/pull", json{{"reference", "127.0.0.1:1/x:y"}}, true);
        EXPECT_NE(pulled.body.find("\"error\""), std::string::npos) << pulled.body;
    }
    api.expect_body(400, "POST", "/v1/auth", json{{"registry", "127.0.0.1:1"}}, false);
    api.expect_body(400, "POST", "/v1/auth", json{{"registry", "Not/A Host"}, {"username", "u"}, {"password", "p"}}, true);
    api.expect_body(500, "POST", "/v1/auth", json{{"registry", "127.0.0.1:1"}, {"username", "u"}, {"password", "p"}}, true);
    api.expect(404, "DELETE", "/v1/auth/127.0.0.1%3A1");
    const std::string digest = image.value("digest", "");
    api.expect(200, "GET", "/v1/images");
    api.expect(200, "GET", "/v1/images/busybox");
    api.expect(200, "GET", "/v1/images/" + digest);
    api.expect(200, "GET", "/v1/images/" + digest.substr(7, 12));
    api.expect(404, "GET", "/v1/images/nothing");
    api.expect(412, "DELETE", "/v1/images/" + digest);  // two names share it
    api.expect(400, "DELETE", "/v1/images/spare:1?force=maybe");
    api.expect(204, "DELETE", "/v1/images/spare:1");
    api.expect(404, "DELETE", "/v1/images/spare:1");

    // --- pods --------------------------------------------------------------------------------
    const std::string host_dir = k.dir() + "/host-volume";
    ASSERT_EQ(::mkdir(host_dir.c_str(), 0755), 0);
    json full = full_pod(host_dir);
    json dry = full;
    dry["restartPolicy"] = "always";
    dry["isolators"] = {{"seccomp", {{"profile", "default"}}}, {"userns", nullptr}};
    auto canonical =
        json::parse(api.expect_body(200, "POST", "/v1/pods?dryRun=true", dry, true).body)["spec"];
    // The canonical form reads back unchanged.
    auto again = json::parse(
        api.expect_body(200, "POST", "/v1/pods?dryRun=true", canonical, true).body)["spec"];
    EXPECT_EQ(again, canonical);
    dry["isolators"] = json::array(
        {{{"name", "seccomp"}, {"config", {{"profile", "default"}}}}, {{"name", "userns"}}});
    api.expect_body(200, "POST", "/v1/pods?dryRun=true", dry, true);

    api.expect_raw(400, "POST", "/v1/pods", "{not json");
    auto refused = [&](const std::string& why, json pod, bool schema_allows) {
        SCOPED_TRACE(why);
        api.expect_body(400, "POST", "/v1/pods", pod, schema_allows);
    };
    json p = simple_pod("bad", {"true"});
    {
        json q = p;
        q["colour"] = "red";
        refused("unknown field", q, false);
        q = p;
        q["containers"][0]["tty"] = "yes";
        refused("wrong type", q, false);
        q = p;
        q["containers"][0]["colour"] = "red";
        refused("unknown container field", q, false);
        q = p;
        q["containers"] = json::array();
        refused("no containers", q, false);
        q = p;
        q["containers"][0]["env"] = {"1A=x"};
        refused("env name", q, false);
        q = p;
        q["containers"][0]["resources"] = {{"memory", 1024}};
        refused("memory below 4 MiB", q, false);
        q = p;
        q["containers"][0]["resources"] = {{"cpus", 0}};
        refused("no CPU", q, false);
        q = p;
        q["restartPolicy"] = "sometimes";
        refused("restart policy", q, false);
        q = p;
        q["restartPolicy"] = {{"policy", "always"}, {"backoff", {{"initial", "soon"}}}};
        refused("duration", q, false);
        q = p;
        q["stopGracePeriod"] = -1;
        refused("negative duration", q, false);
        q = p;
        q["volumes"] = {{{"name", "v"}, {"hostPath", "relative"}}};
        refused("relative hostPath", q, false);
        q = p;
        q["networks"] = {"none", "host"};
        refused("none with host", q, true);  // beyond what a schema says
        q = p;
        q["containers"][0]["image"] = "nosuchimage";
        refused("missing image", q, true);
    }
    refused("pod name", simple_pod("Bad_Name", {"true"}), false);
    api.expect_body(400, "POST", "/v1/pods?start=maybe", simple_pod("flag", {"true"}), true);
    api.expect_body(400, "POST", "/v1/pods?dryRun=maybe", simple_pod("flag", {"true"}), true);
    // A pod whose command cannot run is not kept.
    api.expect_body(412, "POST", "/v1/pods", simple_pod("nobinary", {"/no/such/binary"}), true);
    api.expect(404, "GET", "/v1/pods/nobinary");

    auto created = api.expect_body(201, "POST", "/v1/pods?start=false", full, true);
    EXPECT_EQ(created.header("location"), "/v1/pods/full");
    EXPECT_EQ(json::parse(created.body).value("state", ""), "created");
    EXPECT_EQ(json::parse(created.body)["spec"]["hostname"], "full.example");
    api.expect_body(409, "POST", "/v1/pods", full, true);

    std::string huge(2 << 20, 'x');
    api.expect_raw(413, "POST", "/v1/pods", "{\"name\":\"" + huge + "\"}");
    // A request that never ends.
    api.expect_answer(
        408, "POST", "/v1/pods",
        raw_exchange(k.socket(),
                     "POST /v1/pods HTTP/1.1\r\nHost: kilnd\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100\r\n\r\n{\"name\":"));
    // A malformed target.
    api.expect(400, "GET", "/v1/pods/%zz");

    api.expect(200, "GET", "/v1/pods");
    api.expect(200, "GET", "/v1/pods?all=false");
    api.expect(200, "GET", "/v1/pods?system=0&all=1");
    api.expect(400, "GET", "/v1/pods?all=maybe");
    api.expect(200, "GET", "/v1/pods/full");
    api.expect(404, "GET", "/v1/pods/nope");
    api.expect(400, "GET", "/v1/pods/Bad_Name");

    auto started = json::parse(api.expect(200, "POST", "/v1/pods/full/start").body);
    EXPECT_EQ(started.value("state", ""), "running") << started.dump();
    api.expect(200, "POST", "/v1/pods/full/start");
    api.expect(404, "POST", "/v1/pods/nope/start");
    api.expect_body(201, "POST", "/v1/pods?start=false", simple_pod("cannot", {"/no/such/binary"}),
                    true);
    api.expect(412, "POST", "/v1/pods/cannot/start");
    api.expect(204, "DELETE", "/v1/pods/cannot");
    api.expect(400, "POST", "/v1/pods/Bad_Name/start");

    api.expect(200, "GET", "/v1/pods/full/stats");
    api.expect(404, "GET", "/v1/pods/nope/stats");

    // --- logs --------------------------------------------------------------------------------
    const std::string logs = "/v1/pods/full/containers/main/logs";
    // stdout and stderr come through different pipes: their order in the log is not known.
    auto both = [](const std::string& text) {
        return text.size() == 8 && text.find("out\n") != std::string::npos &&
               text.find("err\n") != std::string::npos;
    };
    for (int i = 0; i < 200 && !both(k.logs("full", "main")); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(both(api.expect(200, "GET", logs).body));
    auto entries = api.expect(200, "GET", logs + "?format=json").body;
    EXPECT_NE(entries.find("\"stream\":\"stderr\""), std::string::npos) << entries;
    auto last = api.expect(200, "GET", logs + "?tail=1").body;
    EXPECT_TRUE(last == "out\n" || last == "err\n") << last;
    api.expect(200, "GET", logs + "?tail=all&since=0&timestamps=true");
    api.expect(200, "GET", logs + "?since=2000-01-01T00:00:00Z&format=text");
    api.expect(400, "GET", logs + "?format=xml");
    api.expect(400, "GET", logs + "?tail=-1");
    api.expect(400, "GET", logs + "?since=yesterday");
    api.expect(400, "GET", logs + "?follow=maybe");
    api.expect(404, "GET", "/v1/pods/full/containers/nope/logs");
    api.expect(404, "GET", "/v1/pods/nope/containers/main/logs");
    {
        auto head = raw_exchange(k.socket(),
                                 "GET " + logs + "?follow=true HTTP/1.1\r\nHost: kilnd\r\n\r\n");
        api.expect_answer(200, "GET", logs + "?follow=true", head);
        std::string followed;
        c.stream(logs + "?follow=true", [&](std::string_view chunk) {
            followed += chunk;
            return !both(followed);
        });
        EXPECT_TRUE(both(followed)) << followed;
    }

    // --- exec --------------------------------------------------------------------------------
    const std::string exec = "/v1/pods/full/containers/main/exec";
    auto ran = json::parse(
        api.expect_body(
               200, "POST", exec,
               json{{"command", {"sh", "-c", "cat; echo $FOO; pwd; echo oops >&2; exit 5"}},
                    {"env", {"FOO=bar"}},
                    {"workingDir", "/"},
                    {"user", "0"},
                    {"stdin", "fed\n"}},
               true)
            .body);
    EXPECT_EQ(ran.value("exitCode", -1), 5);
    EXPECT_EQ(ran.value("stdout", ""), "fed\nbar\n/\n");
    EXPECT_EQ(ran.value("stderr", ""), "oops\n");
    api.expect_body(400, "POST", exec, json{{"command", "ls"}}, false);
    api.expect_body(400, "POST", exec, json{{"command", json::array()}}, false);
    api.expect_body(400, "POST", exec, json{{"command", {"ls"}}, {"colour", "red"}}, false);
    api.expect_body(400, "POST", exec, json{{"command", {"ls"}}, {"workingDir", "tmp"}}, false);
    api.expect_body(400, "POST", exec, json{{"command", {"ls"}}, {"tty", true}}, true);
    api.expect_raw(400, "POST", exec, "[");
    api.expect_body(404, "POST", "/v1/pods/full/containers/nope/exec", json{{"command", {"ls"}}},
                    true);
    api.expect_body(400, "POST", exec, json{{"command", {"ls"}}, {"user", "nosuchuser"}}, true);

    // --- WebSockets --------------------------------------------------------------------------
    const auto* exec_ws = contract.find("GET", exec);
    const auto* attach_ws = contract.find("GET", "/v1/pods/full/containers/main/attach");
    ASSERT_TRUE(exec_ws && exec_ws->websocket);
    ASSERT_TRUE(attach_ws && attach_ws->websocket);
    // Without the upgrade: 426.
    api.expect(426, "GET", exec);
    api.expect(426, "GET", "/v1/pods/full/containers/main/attach");
    // The handshake, by hand: 101.
    api.expect_answer(101, "GET", exec, raw_exchange(k.socket(), upgrade_request(exec)));
    api.expect_answer(
        101, "GET", "/v1/pods/full/containers/main/attach",
        raw_exchange(k.socket(), upgrade_request("/v1/pods/full/containers/main/attach")));
    {
        SCOPED_TRACE("exec over a WebSocket, pipes");
        auto ws = c.websocket(exec);
        api.saw("GET", exec, 101);
        auto s = run_session(
            contract, *exec_ws, *ws,
            {{true, json{{"command", {"sh", "-c", "cat; echo err >&2; exit 3"}}}.dump()},
             {false, "hi\n"},
             {true, R"({"stdin_eof":true})"}});
        EXPECT_EQ(s.out, "hi\n");
        EXPECT_EQ(s.err, "err\n");
        EXPECT_EQ(s.exit_code, 3);
        EXPECT_EQ(s.close_code, 1000) << s.close_reason;
    }
    {
        SCOPED_TRACE("exec over a WebSocket, terminal");
        auto ws = c.websocket(exec);
        auto s = run_session(
            contract, *exec_ws, *ws,
            {{true, json{{"command", {"sh", "-c", "sleep 0.5; stty size; exit 2"}}, {"tty", true}}
                        .dump()},
             {true, json{{"resize", {{"cols", 100}, {"rows", 30}}}}.dump()}});
        EXPECT_NE(s.out.find("30 100"), std::string::npos) << s.out;
        EXPECT_EQ(s.err, "");
        EXPECT_EQ(s.exit_code, 2);
    }
    // Refusals: before the handshake as a status, after it as a close with 1011 and the message.
    auto refused_session = [&](const Contract::Operation& op, const std::string& target,
                               const std::string& first, const std::string& mentions) {
        SCOPED_TRACE(target);
        auto head = raw_exchange(k.socket(), upgrade_request(target));
        api.expect_answer(head.status, "GET", target, head);
        if (head.status != 101) return;  // refused before the handshake: checked as a status
        auto ws = c.websocket(target);
        std::vector<std::pair<bool, std::string>> sends;
        if (!first.empty()) sends.push_back({true, first});
        auto s = run_session(contract, op, *ws, sends, false);
        EXPECT_EQ(s.close_code, 1011) << s.close_reason;
        EXPECT_NE(s.close_reason.find(mentions), std::string::npos) << s.close_reason;
        EXPECT_FALSE(s.exit_code);
    };
    refused_session(*exec_ws, "/v1/pods/full/containers/nope/exec",
                    json{{"command", {"ls"}}}.dump(), "nope");
    refused_session(*exec_ws, exec, json{{"command", "ls"}}.dump(), "command");
    refused_session(*attach_ws, "/v1/pods/nope/containers/main/attach", "", "nope");
    refused_session(*attach_ws, "/v1/pods/full/containers/main/attach?stdin=maybe", "", "stdin");
    refused_session(*attach_ws, "/v1/pods/full/containers/main/attach?logs=maybe", "", "logs");

    // Attach: stdin in, output out, the exit code at the end.
    json talk = simple_pod(
        "talk", {"sh", "-c", "echo ready; read line; echo got:$line; echo bye >&2; exit 6"});
    talk["containers"][0]["stdin"] = true;
    api.expect_body(201, "POST", "/v1/pods", talk, true);
    {
        SCOPED_TRACE("attach");
        // With logs=true what came before the attach comes first.
        const std::string attach = "/v1/pods/talk/containers/main/attach?stdin=true&logs=true";
        for (int i = 0; i < 200 && k.logs("talk", "main").empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        auto ws = c.websocket(attach);
        api.saw("GET", attach, 101);
        auto s = run_session(contract, *attach_ws, *ws, {{false, "hello\n"}});
        EXPECT_EQ(s.out, "ready\ngot:hello\n");
        EXPECT_EQ(s.err, "bye\n");
        EXPECT_EQ(s.exit_code, 6);
    }
    k.wait_pod("talk", [](const json& p) { return p["state"] != "running"; });
    refused_session(*attach_ws, "/v1/pods/talk/containers/main/attach", "", "not running");

    // --- stop, and what needs a running container --------------------------------------------
    api.expect(400, "POST", "/v1/pods/full/stop?timeout=soon");
    api.expect(400, "POST", "/v1/pods/full/stop?timeout=-1");
    api.expect(404, "POST", "/v1/pods/nope/stop");
    api.expect(400, "POST", "/v1/pods/Bad_Name/stop");
    auto stopped = json::parse(api.expect(200, "POST", "/v1/pods/full/stop?timeout=0.5").body);
    EXPECT_EQ(stopped.value("state", ""), "stopped") << stopped.dump();
    api.expect(200, "POST", "/v1/pods/full/stop");
    api.expect_body(412, "POST", exec, json{{"command", {"ls"}}}, true);
    refused_session(*exec_ws, exec, json{{"command", {"ls"}}}.dump(), "not running");
    api.expect(200, "GET", "/v1/pods/full/stats");
    api.expect(200, "GET", logs);

    // --- delete ------------------------------------------------------------------------------
    api.expect_body(201, "POST", "/v1/pods", simple_pod("busy", {"sleep", "1000"}), true);
    api.expect(412, "DELETE", "/v1/images/busybox");  // busy uses it
    api.expect(412, "DELETE", "/v1/pods/busy");
    api.expect(400, "DELETE", "/v1/pods/busy?force=maybe");
    api.expect(204, "DELETE", "/v1/pods/busy?force=true");
    api.expect(404, "DELETE", "/v1/pods/busy");
    api.expect(400, "DELETE", "/v1/pods/Bad_Name");
    api.expect(204, "DELETE", "/v1/pods/full");
    api.expect(204, "DELETE", "/v1/pods/talk");
    // The last events of the run, to know when the stream has brought them all.
    api.expect_body(201, "POST", "/v1/pods?start=false", simple_pod("marker", {"true"}), true);
    api.expect(204, "DELETE", "/v1/pods/marker");

    // --- events ------------------------------------------------------------------------------
    api.expect(400, "GET", "/v1/events?since=soon");
    api.expect_answer(200, "GET", "/v1/events",
                      raw_exchange(k.socket(), "GET /v1/events HTTP/1.1\r\nHost: kilnd\r\n\r\n"));
    {
        const YAML::Node data_schema =
            contract.response(*contract.find("GET", "/v1/events"),
                              200)["content"]["text/event-stream"]["x-kiln-event-data-schema"];
        ASSERT_TRUE(data_schema);
        std::vector<json> events;
        api::SseParser parser, resume_parser;
        c.stream("/v1/events?since=0", [&](std::string_view chunk) {
            for (const auto& ev : parser.feed(chunk)) {
                auto e = json::parse(ev.data, nullptr, false);
                for (const auto& v : contract.violations(e, data_schema))
                    ADD_FAILURE() << "event " << ev.data << ": " << v;
                EXPECT_EQ(ev.id, std::to_string(e.value("id", 0))) << ev.data;
                EXPECT_EQ(ev.event, e.value("type", "")) << ev.data;
                events.push_back(e);
            }
            return events.empty() ||
                   !(events.back()["type"] == "pod.deleted" && events.back()["pod"] == "marker");
        });
        ASSERT_GE(events.size(), 3u);
        for (std::size_t i = 0; i < events.size(); ++i)
            EXPECT_EQ(events[i]["id"], i + 1) << "ids go up by one from 1";
        std::set<std::string> types;
        for (const auto& e : events)
            types.insert(e["type"]);
        for (const char* t : {"pod.created", "pod.started", "pod.stopped", "pod.deleted",
                              "container.started", "container.exited"})
            EXPECT_TRUE(types.count(t)) << t << " never came";
        // Resuming after an id brings what came after it.
        const auto cursor = events[events.size() - 2]["id"].get<std::uint64_t>();
        json resumed;
        c.stream("/v1/events?since=" + std::to_string(cursor), [&](std::string_view chunk) {
            for (const auto& ev : resume_parser.feed(chunk))
                resumed = json::parse(ev.data, nullptr, false);
            return resumed.is_null();
        });
        EXPECT_EQ(resumed, events.back());
    }

    // --- every documented path has exactly the documented methods ----------------------------
    std::set<std::string> paths;
    for (const auto& op : contract.operations())
        paths.insert(op.path);
    for (const auto& path : paths) {
        std::string concrete;
        for (const auto& seg : split_path(path))
            concrete += "/" + (seg == "{name}"        ? std::string("box")
                               : seg == "{container}" ? std::string("main")
                               : seg == "{ref}"       ? std::string("busybox")
                               : seg == "{registry}"  ? std::string("registry.example")
                               : seg == "{id}"        ? std::string("cni")
                                                      : seg);
        const auto expected = contract.methods_for(concrete);
        for (const char* method : {"PUT", "PATCH"}) {
            SCOPED_TRACE(std::string(method) + " " + concrete);
            ASSERT_EQ(contract.find(method, concrete), nullptr);
            auto r = c.request(method, concrete);
            EXPECT_EQ(r.status, 405) << "an undocumented route? " << r.body;
            std::set<std::string> allowed;
            std::string allow = r.headers["allow"];
            for (std::size_t start = 0; start < allow.size();) {
                std::size_t end = allow.find(',', start);
                if (end == std::string::npos) end = allow.size();
                std::string m = allow.substr(start, end - start);
                m.erase(0, m.find_first_not_of(' '));
                if (!m.empty()) allowed.insert(m);
                start = end + 1;
            }
            EXPECT_EQ(allowed, expected) << "Allow: " << allow;
            const YAML::Node refused = contract.root()["components"]["responses"]["MethodNotAllowed"];
            auto body = json::parse(r.body, nullptr, false);
            for (const auto& e :
                 contract.violations(body, refused["content"]["application/json"]["schema"]))
                ADD_FAILURE() << e << ": " << r.body;
        }
    }
    auto unknown = c.request("GET", "/v1/nothing");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(json::parse(unknown.body, nullptr, false).value("code", ""), "not_found");

    // --- coverage ----------------------------------------------------------------------------
    for (const auto& op : contract.operations()) {
        auto it = api.seen().find(op.name());
        if (it == api.seen().end()) {
            ADD_FAILURE() << op.name() << " is documented but was never exercised";
            continue;
        }
        // Statuses of the operation's own (not the framework's refusals, and not 500) that this
        // run could not provoke, for whoever extends it.
        std::string unseen;
        for (int s : op.statuses) {
            const YAML::Node r = op.node["responses"][std::to_string(s)];
            const std::string ref = r["$ref"] ? r["$ref"].as<std::string>() : "";
            const bool framework =
                s >= 500 || ref.ends_with("/BadRequest") || ref.ends_with("/RequestTimeout") ||
                ref.ends_with("/PayloadTooLarge") || ref.ends_with("/ServerStopping");
            if (!framework && !it->second.count(s)) unseen += " " + std::to_string(s);
        }
        if (!unseen.empty())
            std::cout << "[ info     ] " << op.name() << ": not provoked:" << unseen << "\n";
    }
}

#ifdef KILN_ROUTER_HAS_ROUTES
// The server's own list of routes is the file's list of operations, kinds included.
TEST(OpenApi, OperationsAreTheServersRoutes) {
    KILN_REQUIRE_ROOT();
    Contract contract;
    TempDir tmp("kiln-openapi");
    daemon::Config config;
    config.state_dir = tmp.path() + "/state";
    config.run_dir = tmp.path() + "/run";
    config.cgroup_parent = "kiln-openapi-" + std::to_string(::getpid());
    daemon::Daemon d(config, KILN_BUILD_DIR "/bin");
    auto router = api::make_routes(d);

    using Route = std::tuple<std::string, std::string, std::string>;  // method, pattern, kind
    std::set<Route> server, documented;
    // Whether a plain handler runs on a thread of its own is no part of the contract.
    for (const auto& r : router->routes())
        server.insert({r.method, r.pattern, r.kind == "slow" ? "plain" : r.kind});
    for (const auto& op : contract.operations())
        documented.insert({op.method, op.path, op.kind()});
    for (const auto& [method, pattern, kind] : server)
        EXPECT_TRUE(documented.count({method, pattern, kind}))
            << "the server has " << method << " " << pattern << " (" << kind
            << "), the file does not";
    for (const auto& [method, pattern, kind] : documented)
        EXPECT_TRUE(server.count({method, pattern, kind}))
            << "the file has " << method << " " << pattern << " (" << kind
            << "), the server does not";
}
#endif

}  // namespace
}  // namespace kiln::testing
