// Formatting and number parsing for kiln-init's own C library (init_libc.c): vsnprintf and
// strtol as glibc's behave, for the conversions kiln-init uses. Plain C with no system calls,
// so that unit tests compare it with glibc's.
#include "core/container/init_text.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct Out {
    char* buf;
    size_t cap;
    size_t len;
};

static void put(struct Out* o, char c) {
    if (o->len + 1 < o->cap) o->buf[o->len] = c;
    o->len++;
}

static void put_padded(struct Out* o, const char* s, size_t n, int width, bool left, char pad) {
    size_t fill = width > 0 && (size_t)width > n ? (size_t)width - n : 0;
    if (!left)
        while (fill--) put(o, pad);
    for (size_t i = 0; i < n; ++i) put(o, s[i]);
    if (left)
        while (fill--) put(o, ' ');
}

int kiln_vformat(char* restrict buf, size_t cap, const char* restrict fmt, va_list ap) {
    struct Out o = {buf, cap, 0};
    for (const char* f = fmt; *f; ++f) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        ++f;
        bool left = false, zero = false, plus = false, space = false, alt = false;
        for (;; ++f) {
            if (*f == '-') left = true;
            else if (*f == '0') zero = true;
            else if (*f == '+') plus = true;
            else if (*f == ' ') space = true;
            else if (*f == '#') alt = true;
            else break;
        }
        int width = 0;
        if (*f == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = true;
                width = -width;
            }
            ++f;
        } else {
            while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
        }
        int precision = -1;
        if (*f == '.') {
            ++f;
            precision = 0;
            if (*f == '*') {
                precision = va_arg(ap, int);
                ++f;
            } else {
                while (*f >= '0' && *f <= '9') precision = precision * 10 + (*f++ - '0');
            }
        }
        int size = 0;  // -2 hh, -1 h, 1 l, 2 ll (z, t, j as l)
        if (*f == 'h') {
            size = -1;
            if (*++f == 'h') {
                size = -2;
                ++f;
            }
        } else if (*f == 'l') {
            size = 1;
            if (*++f == 'l') {
                size = 2;
                ++f;
            }
        } else if (*f == 'z' || *f == 't' || *f == 'j') {
            size = 1;
            ++f;
        }
        char conv = *f;
        if (!conv) break;
        if (conv == '%') {
            put(&o, '%');
            continue;
        }
        if (conv == 'c') {
            char c = (char)va_arg(ap, int);
            put_padded(&o, &c, 1, width, left, ' ');
            continue;
        }
        if (conv == 's') {
            const char* s = va_arg(ap, const char*);
            if (!s) s = "(null)";
            size_t n = precision >= 0 ? strnlen(s, (size_t)precision) : strlen(s);
            put_padded(&o, s, n, width, left, ' ');
            continue;
        }
        unsigned long long v;
        bool negative = false;
        unsigned base = 10;
        bool upper = false;
        if (conv == 'd' || conv == 'i') {
            long long s = size == 2 ? va_arg(ap, long long) : size == 1 ? va_arg(ap, long) : va_arg(ap, int);
            if (size == -1) s = (short)s;
            if (size == -2) s = (signed char)s;
            negative = s < 0;
            v = negative ? 0ULL - (unsigned long long)s : (unsigned long long)s;
        } else if (conv == 'u' || conv == 'x' || conv == 'X' || conv == 'o' || conv == 'p') {
            if (conv == 'p') {
                v = (uintptr_t)va_arg(ap, void*);
                alt = true;
            } else {
                v = size == 2 ? va_arg(ap, unsigned long long) : size == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
                if (size == -1) v = (unsigned short)v;
                if (size == -2) v = (unsigned char)v;
            }
            base = conv == 'o' ? 8 : conv == 'u' ? 10 : 16;
            upper = conv == 'X';
        } else {  // unknown: shown as written
            put(&o, '%');
            put(&o, conv);
            continue;
        }
        if (conv == 'p' && v == 0) {
            put_padded(&o, "(nil)", 5, width, left, ' ');
            continue;
        }
        bool zero_value = v == 0;
        char digits[32];
        int n = 0;
        const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        do {
            digits[n++] = set[v % base];
            v /= base;
        } while (v);
        if (precision == 0 && zero_value) n = 0;
        // The digits with the precision's leading zeros, most significant first.
        char body[64];
        int b = 0;
        for (int z = n; z < precision && b < 40; ++z) body[b++] = '0';
        while (n) body[b++] = digits[--n];
        char text[96];
        int t = 0;
        if (negative) text[t++] = '-';
        else if (plus && (conv == 'd' || conv == 'i')) text[t++] = '+';
        else if (space && (conv == 'd' || conv == 'i')) text[t++] = ' ';
        if (alt && base == 16 && !zero_value) {
            text[t++] = '0';
            text[t++] = upper ? 'X' : 'x';
        }
        if (alt && base == 8 && (b == 0 || body[0] != '0')) text[t++] = '0';
        if (zero && !left && precision < 0)
            for (int z = t + b; z < width && t < 40; ++z) text[t++] = '0';
        memcpy(text + t, body, (size_t)b);
        t += b;
        put_padded(&o, text, (size_t)t, width, left, ' ');
    }
    if (cap) o.buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len > INT_MAX ? -1 : (int)o.len;
}

long kiln_strtol(const char* restrict s, char** restrict end, int base, int* err) {
    const char* p = s;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) ++p;
    bool negative = false;
    if (*p == '+' || *p == '-') negative = *p++ == '-';
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    unsigned long limit = negative ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
    unsigned long v = 0;
    bool overflow = false, any = false;
    for (;; ++p) {
        int d;
        if (*p >= '0' && *p <= '9') d = *p - '0';
        else if (*p >= 'a' && *p <= 'z') d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'Z') d = *p - 'A' + 10;
        else break;
        if (d >= base) break;
        any = true;
        if (v > (limit - (unsigned long)d) / (unsigned long)base) overflow = true;
        else v = v * (unsigned long)base + (unsigned long)d;
    }
    if (end) *end = (char*)(any ? p : s);
    if (overflow) {
        *err = ERANGE;
        return negative ? LONG_MIN : LONG_MAX;
    }
    return negative ? (long)(0 - v) : (long)v;
}

