// Formatting and number parsing for kiln-init's own C library (init_text.c).
#pragma once

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// vsnprintf for d i u x X o c s p and %%, with the flags - 0 + space #, a width and a precision
// (also *), and the length modifiers hh h l ll z t j.
int kiln_vformat(char* __restrict buf, size_t cap, const char* __restrict fmt, va_list ap);

// strtol; *err is set to ERANGE on overflow and left alone otherwise.
long kiln_strtol(const char* __restrict s, char** __restrict end, int base, int* err);

#ifdef __cplusplus
}
#endif
