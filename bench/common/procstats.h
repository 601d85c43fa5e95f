// What a load generator reads of the broker it measures: its CPU time and its memory figures from
// /proc (kennel-nativebench, kennel-fanoutbench). Plain C++17, no Qt.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ProcStats {

// User + system CPU seconds of `pid` (/proc/PID/stat fields 14 and 15); -1 if it cannot be read.
inline double procCpuSeconds(int pid)
{
    char path[64], buf[1024];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = std::fopen(path, "r");
    if (!f)
        return -1;
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    char *p = std::strrchr(buf, ')');
    if (!p)
        return -1;
    p += 2;
    for (int i = 0; i < 11 && p; i++)
        p = std::strchr(p, ' ') ? std::strchr(p, ' ') + 1 : nullptr;
    unsigned long long ut = 0, st = 0;
    if (!p || std::sscanf(p, "%llu %llu", &ut, &st) != 2)
        return -1;
    return double(ut + st) / double(sysconf(_SC_CLK_TCK));
}

inline long procStatusKb(int pid, const char *key)
{
    char path[64], line[256];
    std::snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = std::fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    const size_t kl = std::strlen(key);
    while (std::fgets(line, sizeof line, f))
        if (!std::strncmp(line, key, kl) && line[kl] == ':') {
            v = std::strtol(line + kl + 1, nullptr, 10);
            break;
        }
    std::fclose(f);
    return v;
}

} // namespace ProcStats
