// Long handlers off the Asio threads.
#include "api/server/routes/routes.hpp"

namespace kiln::api {

void add_slow(Router& r, std::string method, const std::string& pattern, Handler handler) {
    r.add(std::move(method), pattern, std::move(handler));
}

}  // namespace kiln::api
