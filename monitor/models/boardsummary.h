// BoardSummary: one board's retained summary as a fleet view reads it (docs/FLEET.md, "The
// summary"), and the board-state topics' payloads decoded. Pure: bytes in, a value or a reason
// out. A field is only ever added to the summary (schema 1): what is not known here is ignored,
// what is known must have its type, and a payload that is not a summary is refused, never guessed.
#pragma once

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace Kennel {

struct BoardSummary
{
    struct Service
    {
        QString name;
        QString state;
        qint64 pid = 0;
        qint64 restarts = 0;
    };

    QString board;
    QDateTime time; // when the board made it (its clock); invalid when absent
    qint64 clients = 0, watched = 0, late = 0;
    qint64 expiries = 0, kills = 0, restarts = 0, servicesFailed = 0;
    QList<Service> services;
    bool bridgeConnected = false;
    quint64 spoolDepth = 0, spoolDropped = 0;
    // Where its own monitor connection is opened ("monitor" object); empty when it gave none.
    QString monitorAddress;
    bool monitorTls = false;
    QJsonObject raw; // the whole object, for the detail view

    // A summary larger than this is refused: a board with a few hundred services stays far below.
    static constexpr qsizetype DefaultMaxBytes = 256 * 1024;
    static std::optional<BoardSummary> decode(const QByteArray &payload, QString *error,
                                              qsizetype maxBytes = DefaultMaxBytes);
};

// A board-state event (FLEET.md, "Events") as one line for a table: "kill sensor (terminate)".
std::optional<QString> decodeBoardEvent(const QByteArray &payload, QString *error);
// `online`: exactly "true" or "false".
std::optional<bool> decodeBoardOnline(const QByteArray &payload, QString *error);

} // namespace Kennel
