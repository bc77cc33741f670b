// The C++ runtime kiln-init is linked against instead of libstdc++: allocation through
// init_libc.c's allocator, and the library's error paths, which without exceptions end the
// process with a message.
#include <cstddef>
#include <memory>
#include <new>

extern "C" void* kiln_init_alloc(size_t n);
extern "C" void kiln_init_free(void* p, size_t n);
extern "C" [[noreturn]] void kiln_init_abort(const char* what);

void* operator new(size_t n) { return kiln_init_alloc(n); }
void* operator new[](size_t n) { return kiln_init_alloc(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return kiln_init_alloc(n); }
void operator delete(void*) noexcept {}
void operator delete[](void*) noexcept {}
void operator delete(void* p, size_t n) noexcept { kiln_init_free(p, n); }
void operator delete[](void* p, size_t n) noexcept { kiln_init_free(p, n); }

namespace std {

// libstdc++ declares this instantiation extern and keeps it in its library; unoptimized builds
// call its members rather than inlining them.
template class allocator<char>;

void __throw_bad_alloc() { kiln_init_abort("out of memory"); }
void __throw_bad_array_new_length() { kiln_init_abort("bad array length"); }
void __throw_length_error(const char* what) { kiln_init_abort(what); }
void __throw_logic_error(const char* what) { kiln_init_abort(what); }
void __throw_out_of_range(const char* what) { kiln_init_abort(what); }
void __throw_out_of_range_fmt(const char* what, ...) { kiln_init_abort(what); }
void __throw_invalid_argument(const char* what) { kiln_init_abort(what); }
void __throw_bad_optional_access() { kiln_init_abort("bad optional access"); }
void __glibcxx_assert_fail(const char*, int, const char*, const char* condition) noexcept {
    kiln_init_abort(condition);
}

}  // namespace std
