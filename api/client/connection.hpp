// Internal to the client (included by its .cpp files only): one connection to kilnd with its
// own io_context, on which each asynchronous operation is run to completion or to a deadline.
// Asynchronous operations under a deadline are how a synchronous caller gets timeouts, and
// how a WebSocket can wait for a message while it sends.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "api/client/client.hpp"

namespace kiln::api {

struct Client::Connection {
    using Clock = std::chrono::steady_clock;

    // Connects, or throws ConnectionError.
    Connection(const std::string& socket_path, std::chrono::milliseconds timeout);

    // Starts an operation with a completion handler and runs the io_context until it completes;
    // past the timeout the socket's operations are cancelled and timed_out is set.
    template <class Initiate>
    boost::system::error_code run(Initiate&& initiate) {
        bool done = false;
        boost::system::error_code result;
        std::forward<Initiate>(initiate)([&done, &result](boost::system::error_code ec, auto&&...) {
            done = true;
            result = ec;
        });
        timed_out = false;
        if (!run_until(done, timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max())) {
            timed_out = true;
            boost::system::error_code ignored;
            socket.cancel(ignored);
            run_until(done, Clock::time_point::max());
        }
        return result;
    }

    // Runs handlers until `done` or the deadline; false at the deadline.
    bool run_until(const bool& done, Clock::time_point deadline);

    std::string socket_path;
    std::chrono::milliseconds timeout;
    boost::asio::io_context io{1};
    boost::asio::local::stream_protocol::socket socket{io};
    boost::beast::flat_buffer buffer;
    bool timed_out = false;
};

}  // namespace kiln::api
