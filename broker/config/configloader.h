// Builds a BrokerConfig from three layers — built-in defaults < INI file (--config) < command-line
// flags — and refuses anything it does not understand. docs/CONFIG.md is the user-facing
// description; keep the two in step.
#pragma once

#include "brokerconfig.h"

#include <QString>
#include <QStringList>

#include <optional>

class QCommandLineParser;

namespace Kennel {

// Parses one listen address: "HOST:PORT", "[IPv6]:PORT" or "unix:PATH".
// HOST is an IPv4 literal, an IPv6 literal in brackets (optionally with a %zone), "localhost"
// (stored as 127.0.0.1: no resolver involved) or "*" (every IPv4 and IPv6 address; the listener
// maps it to QHostAddress::Any). IP literals are stored in canonical form, so equal addresses
// compare equal. PORT is 0..65535 (0: the system picks one). PATH is absolute ("/...") or
// explicitly relative ("./..." or "../...", from the broker's working directory).
// On failure returns nullopt and, if error is given, a reason without the offending text
// (the caller knows which key or flag it came from, and quotes it).
std::optional<ListenAddress> parseListenAddress(const QString &text, QString *error = nullptr);

class ConfigLoader
{
public:
    struct Result
    {
        BrokerConfig config;
        QStringList errors; // one line each, "<key or --flag>: <what is wrong>"
        bool ok() const { return errors.isEmpty(); }
    };

    // Adds --config, --listen, --max-clients, --max-frame-size, --max-name-length,
    // --max-queue-bytes, --register-timeout, --shutdown-timeout, --watchdog-interval,
    // --watchdog-misses, --watchdog-kill-grace, --log-traffic, --monitor-listen,
    // --monitor-token-file and --check-config. Services, the other watchdog keys and the rest of
    // [monitor] are file only.
    static void addOptions(QCommandLineParser &parser);

    // Defaults, then the file named by --config (if given), then the other flags. A service's
    // program and working_directory, and [monitor]'s certificate, private_key and token_file, are
    // resolved against the file's folder and must exist (a token file is also read and checked:
    // MonitorToken::readFile). A value that
    // fails validation is reported and leaves the previous layer's value in place; every problem
    // is reported, not just the first. The broker must not start unless the Result is ok().
    static Result load(const QCommandLineParser &parser);

    // One layer each, on top of `base`, with the cross-key checks run on the outcome.
    static Result loadFile(const QString &path, BrokerConfig base = {});
    static Result applyFlags(const QCommandLineParser &parser, BrokerConfig base = {});

    // Checks a config assembled in code (tests, embedders) against the same ranges and rules.
    static QStringList validate(const BrokerConfig &config);

    // True when --check-config was given: the broker validates, reports and exits.
    static bool checkConfigRequested(const QCommandLineParser &parser);
};

} // namespace Kennel
