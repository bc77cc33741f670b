// kiln-init: the program every process entering a container starts as. The runtime clones a
// child, which execs this from a sealed memfd (sealed_init.hpp); it receives its plan over the
// sync socket and becomes the first stage, the container's init, or an exec'd process.
//
//   kiln-init init SYNC_FD      (create: stage 1 when namespaces are joined, else init)
//   kiln-init exec SYNC_FD      (exec into a running container)
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/container/init.hpp"
#include "core/container/plan_codec.hpp"
#include "core/container/sync.hpp"

using namespace kiln::container;

namespace {

[[noreturn]] void fail(int sync_fd, const char* what) {
    sync_send(sync_fd, SyncType::error, EPROTO, 0, what, strlen(what));
    _exit(1);
}

// The first message: the encoded plan. Its size is learnt before it is read.
std::string receive_plan(int sync_fd) {
    SyncHeader h;
    ssize_t size;
    do {
        size = ::recv(sync_fd, &h, sizeof h, MSG_PEEK | MSG_TRUNC);
    } while (size < 0 && errno == EINTR);
    if (size < static_cast<ssize_t>(sizeof h)) _exit(1);  // the runtime is gone
    std::string payload(static_cast<size_t>(size) - sizeof h, '\0');
    int n = sync_recv(sync_fd, &h, payload.data(), payload.size());
    if (n < 0 || h.type != SyncType::plan) fail(sync_fd, "kiln-init: expected the plan from the runtime");
    payload.resize(static_cast<size_t>(n));
    return payload;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) return 127;
    std::string mode = argv[1];
    int sync_fd = atoi(argv[2]);
    std::string bytes = receive_plan(sync_fd);
    if (mode == "init") {
        auto plan = decode_init_plan(bytes);
        if (!plan) fail(sync_fd, "kiln-init: malformed plan");
        if (plan->ns.two_stage) stage1_main(*plan, sync_fd);
        init_main(*plan, sync_fd);
    }
    if (mode == "exec") {
        auto plan = decode_exec_plan(bytes);
        if (!plan) fail(sync_fd, "kiln-init: malformed exec plan");
        exec_main(*plan, sync_fd);
    }
    fail(sync_fd, "kiln-init: unknown mode");
}
