// Shared by the fuzz targets: a failed logic check (a round trip that does not hold, a decoder that
// contradicts itself) must end the run like a crash does, so that libFuzzer saves the input. abort()
// is what libFuzzer's -handle_abrt catches; the message says which check failed.
#pragma once

#include <QByteArrayView>

#include <cstdio>
#include <cstdlib>

namespace KennelFuzz {

[[noreturn]] inline void fail(const char *fuzzer, const char *check, const char *file, int line)
{
    std::fprintf(stderr, "%s: check failed at %s:%d: %s\n", fuzzer, file, line, check);
    std::fflush(stderr);
    std::abort();
}

// Reads the input front to back; past the end every read yields 0 so a target never needs to
// special-case a short input.
class Input
{
public:
    Input(const uint8_t *data, size_t size) : m_data(data), m_size(size) {}
    bool atEnd() const { return m_pos >= m_size; }
    size_t remaining() const { return m_pos < m_size ? m_size - m_pos : 0; }
    uint8_t byte() { return m_pos < m_size ? m_data[m_pos++] : 0; }
    QByteArrayView take(size_t n)
    {
        n = n < remaining() ? n : remaining();
        const QByteArrayView v(reinterpret_cast<const char *>(m_data + m_pos), qsizetype(n));
        m_pos += n;
        return v;
    }

private:
    const uint8_t *m_data;
    size_t m_size;
    size_t m_pos = 0;
};

} // namespace KennelFuzz

#define KENNEL_FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) \
            ::KennelFuzz::fail(KENNEL_FUZZER_NAME, #cond, __FILE__, __LINE__); \
    } while (0)
