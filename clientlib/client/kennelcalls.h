// Calls through the broker (PROTOCOL §5.6): what KennelClient::call() returns (PendingCall) and
// what a served call looks like (IncomingCall). Both live in the thread of their KennelClient.
#pragma once

#include "frame.h"
#include "kennel_export.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

namespace Kennel {

namespace Internal {
class CallBook;
}

// A call on its way: finished() is emitted exactly once, from the event loop, with the reply, an
// error reply or a failure. By default the object deletes itself (deleteLater) after finished();
// setAutoDelete(false) keeps it until you delete it. It is a child of the KennelClient.
class KENNEL_CLIENT_EXPORT PendingCall : public QObject
{
    Q_OBJECT

public:
    // 0..999 mirror Kennel::CallOutcome, the broker's answer; 1000 and up are found locally (no
    // broker answered). An outcome this version does not name arrives with its number.
    enum Result : int {
        Replied = 0,       // reply() holds the answer
        ErrorReply = 1,    // the callee answered with an error: errorCode(), errorText()
        Timeout = 2,       // no reply within the deadline
        NoSuchClient = 3,  // nobody holds the name, and the broker does not expect it back
        CalleeGone = 4,    // the callee's connection ended (killed, crashed, said Bye) first
        TooManyCalls = 5,  // this client already has the broker's [calls] max_outstanding calls
        NotCallable = 6,   // the callee cannot serve calls (an old-protocol program, or a client without calls)
        QueueFull = 7,     // the callee is not reading
        InvalidTarget = 8,
        ShuttingDown = 9,  // the broker is stopping
        DuplicateId = 10,
        StartFailed = 11,  // the call waited for an on-demand service whose start failed
        PolicyDenied = 12, // the broker's access policy does not let this client call the name: errorText() says which rule
        Pending = 999,     // not finished yet

        LinkLost = 1000,   // the connection to the broker dropped with the call outstanding
        NotRegistered,     // not sent: the client is not registered
        NotOffered,        // not sent: the broker does not offer calls (an older broker)
        InvalidRequest,    // not sent: an invalid target name, or too large for the broker
    };
    Q_ENUM(Result)

    ~PendingCall() override;

    quint32 callId() const { return m_id; }
    QByteArray target() const { return m_target; }
    bool isFinished() const { return m_result != Pending; }
    Result result() const { return m_result; }
    bool isOk() const { return m_result == Replied; }
    // The callee's reply (Replied).
    QByteArray reply() const { return m_reply; }
    // ErrorReply: the callee's application error code (1..65535); 0 otherwise.
    quint16 errorCode() const { return m_errorCode; }
    // ErrorReply: the callee's text; otherwise what went wrong, for people.
    QString errorText() const { return m_errorText; }
    void setAutoDelete(bool enable) { m_autoDelete = enable; }
    bool autoDelete() const { return m_autoDelete; }

    static const char *resultName(Result result);

Q_SIGNALS:
    void finished(Kennel::PendingCall *call);

private:
    friend class Internal::CallBook;
    PendingCall(QByteArray target, quint32 id, QObject *parent);
    void finish(Result result, QByteArray reply, quint16 code, QString text);

    QByteArray m_target;
    quint32 m_id = 0;
    Result m_result = Pending;
    QByteArray m_reply;
    quint16 m_errorCode = 0;
    QString m_errorText;
    bool m_autoDelete = true;
};

// A call to this client, to be answered once with reply() or replyError(). It is deleted
// (deleteLater) after the answer, when its deadline has passed, or when the connection drops;
// hold it in a QPointer if you answer later.
class KENNEL_CLIENT_EXPORT IncomingCall : public QObject
{
    Q_OBJECT

public:
    ~IncomingCall() override;

    QByteArray caller() const { return m_caller; }
    QByteArray payload() const { return m_payload; }
    quint32 callId() const { return m_id; }
    // What was left of the caller's deadline when the broker handed the call over.
    quint32 deadlineMs() const { return m_deadlineMs; }
    bool isAnswered() const { return m_answered; }

    // False if it was answered already or the connection that brought it is gone.
    bool reply(const QByteArray &payload);
    // `code` 1..65535 (0 is taken as 1): the caller gets ErrorReply with the code and `text`.
    bool replyError(quint16 code, const QString &text);

private:
    friend class Internal::CallBook;
    IncomingCall(Internal::CallBook *book, quint64 generation, QByteArray caller, quint32 id, quint32 deadlineMs,
                 QByteArray payload, QObject *parent);
    bool answer(quint16 code, QByteArrayView payload);

    QPointer<QObject> m_book; // the Internal::CallBook, gone with its client
    quint64 m_generation = 0;
    QByteArray m_caller;
    quint32 m_id = 0;
    quint32 m_deadlineMs = 0;
    QByteArray m_payload;
    bool m_answered = false;
    QTimer m_expiry;
};

} // namespace Kennel
