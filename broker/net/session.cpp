#include "session.h"
#include "errnotext.h"
#include "logging.h"

#include "brokercontext.h"
#include "brokerconfig.h"
#include "deliveryledger.h"
#include "framecodec.h"
#include "legacyframe.h"
#include "legacyhandler.h"
#include "logthrottle.h"
#include "nameregistry.h"
#include "nativehandler.h"

#include <QDateTime>

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace Kennel {

namespace {
// Reads per readiness event before the next connection gets its turn.
constexpr int MaxReadsPerEvent = 4;
// A frame at least this large is read straight into the connection's own buffer instead of
// being reassembled through the shared scratch buffer.
constexpr size_t DirectReadThreshold = BrokerContext::ScratchSize / 2;

LogThrottle refusalLog;
// Lines a peer causes (its close, its registration, Errors it sends), per peer address: a client
// that connects and closes in a loop cannot flood the log (~206 bytes a connection,
// 1.5 MB/s from one client), and one that does cannot hide another address's lines.
// One map per kind (Session::PeerLine), so that a flood of closes cannot hide registrations.
LogThrottleMap peerLog[3];

// The part of a peer address that one attacker cannot vary at will: the host without the port,
// the uid without the pid.
QString peerKey(const QString &address, Session::Transport transport)
{
    if (transport == Session::Transport::Unix) {
        const qsizetype uid = address.indexOf(QLatin1String("uid"));
        return uid < 0 ? address : address.mid(uid);
    }
    const qsizetype colon = address.lastIndexOf(QLatin1Char(':'));
    return colon < 0 ? address : address.left(colon);
}
} // namespace

const char *closeReasonName(Session::CloseReason reason)
{
    switch (reason) {
    case Session::CloseReason::PeerClosed: return "peer closed the connection";
    case Session::CloseReason::ReadError: return "read error";
    case Session::CloseReason::WriteError: return "write error";
    case Session::CloseReason::ProtocolError: return "protocol error";
    case Session::CloseReason::RegisterTimeout: return "did not register in time";
    case Session::CloseReason::TakenOver: return "name taken over";
    case Session::CloseReason::Refused: return "refused";
    case Session::CloseReason::Bye: return "said bye";
    case Session::CloseReason::Shutdown: return "broker shutting down";
    case Session::CloseReason::OutOfMemory: return "out of memory";
    case Session::CloseReason::HandedOver: return "handed over to the monitor hub";
    case Session::CloseReason::ByMonitor: return "disconnected by a monitor";
    case Session::CloseReason::IncompleteFrame: return "incomplete frame timeout";
    case Session::CloseReason::IdleTimeout: return "idle timeout";
    case Session::CloseReason::OverBudget: return "shed over a memory budget";
    }
    return "unknown";
}

Session::Session(BrokerContext &context, int fd, quint64 id, Transport transport, QString peerAddress)
    : m_ctx(context)
    , m_fd(fd)
    , m_id(id)
    , m_transport(transport)
    , m_peerAddress(std::move(peerAddress))
    , m_acceptedAt(std::chrono::steady_clock::now())
    , m_connectedSinceMs(QDateTime::currentMSecsSinceEpoch())
{
}

MemoryBudget &Session::unackedBudget()
{
    return m_ctx.budgets.unackedDeliveries;
}

void Session::keepUnacknowledged(std::unique_ptr<DeliveryLedger> ledger)
{
    m_ledger = std::move(ledger);
    unacked = m_ledger.get();
}

Session::~Session()
{
    if (m_fd >= 0) {
        m_ctx.poller->remove(m_fd);
        ::close(m_fd);
    }
    m_ctx.poller->forget(this);
}

bool Session::start()
{
    m_pollEvents = EPOLLIN | EPOLLRDHUP;
    return m_ctx.poller->add(m_fd, this, m_pollEvents);
}

QString Session::describe() const
{
    const char *transport = m_transport == Transport::Tcp ? "tcp" : "unix";
    if (!m_name.isEmpty())
        return QStringLiteral("'%1' (#%2, %3 %4)").arg(QString::fromLatin1(m_name)).arg(m_id)
            .arg(QLatin1String(transport), m_peerAddress);
    return QStringLiteral("#%1 (%2 %3)").arg(m_id).arg(QLatin1String(transport), m_peerAddress);
}

void Session::setIdentity(Kind kind, QByteArray name, NameEntry *entry)
{
    m_kind = kind;
    m_name = std::move(name);
    m_entry = entry;
}

const PeerLookupResult &Session::peerProcess()
{
    // Looking a TCP peer up walks /proc: done once per connection, and only when a decision needs it.
    if (!m_peerProcess)
        m_peerProcess = lookupPeerProcess(m_fd);
    return *m_peerProcess;
}

bool Session::sameProcessAs(Endpoint &otherEndpoint, QString *why)
{
    // Only another connection has a process to compare: a name held by anything else is not this
    // process's.
    auto *peer = dynamic_cast<Session *>(&otherEndpoint);
    if (!peer)
        return Endpoint::sameProcessAs(otherEndpoint, why);
    Session &other = *peer;
    // The other connection (a name's holder) is looked up once (cached); then the question is
    // whether that process instance holds this connection's peer socket too: one fd table, not a
    // walk of every process's. Any local program can open connection after connection claiming
    // a held legacy name, and a full walk each time stalled every client for tens of ms
    // (tst_attackinput, impersonationLegacy). Forked children holding copies change nothing: the
    // owner is the ancestor, and it holds both sockets (docs/WATCHDOG.md, "Who owns a connection").
    const PeerLookupResult &theirs = other.peerProcess();
    if (theirs.status == PeerLookup::Found) {
        const HoldingResult held = checkHoldsPeer(m_fd, theirs.process);
        if (held.status == Holding::Holds)
            return true;
        if (why)
            *why = held.status == Holding::NotHeld
                ? QStringLiteral("it belongs to another process (%1)").arg(held.detail)
                : QStringLiteral("which process this connection belongs to cannot be verified (%1)").arg(held.detail);
        return false;
    }
    // A peer on another machine has no process we can see; the best the kernel offers is its
    // address, so two connections from the same remote host are taken as one client.
    if (theirs.status == PeerLookup::Remote) {
        const PeerLookupResult &mine = peerProcess();
        if (mine.status == PeerLookup::Remote
            && m_peerAddress.section(QLatin1Char(':'), 0, -2) == other.m_peerAddress.section(QLatin1Char(':'), 0, -2))
            return true;
    }
    // A forwarder relays many clients: its connections cannot be told apart, so none of them
    // shares a name with another.
    if (why)
        *why = QStringLiteral("the process holding it cannot be identified (%1)").arg(theirs.detail);
    return false;
}

bool Session::isPeerGone() const
{
    if (m_fd < 0)
        return true;
    pollfd p{m_fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0)
        return false;
    return p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL);
}

char *Session::reserveOutput(size_t n)
{
    char *dst = m_out.reserve(n);
    if (!dst)
        close(CloseReason::OutOfMemory);
    return dst;
}

void Session::commitOutput(size_t n)
{
    m_out.commit(n);
    if (m_ctx.budgets.clientQueues.add(qint64(n)) && m_ctx.owner)
        m_ctx.owner->budgetExceeded();
    m_ctx.poller->markDirty(this);
}

bool Session::queueShared(SharedFrame &frame)
{
    if (!m_out.appendShared(frame)) {
        close(CloseReason::OutOfMemory);
        return false;
    }
    if (m_ctx.budgets.clientQueues.add(qint64(frame.size())) && m_ctx.owner)
        m_ctx.owner->budgetExceeded();
    m_ctx.poller->markDirty(this);
    return true;
}

void Session::sendFrame(FrameType type, quint32 messageId, QByteArrayView source, QByteArrayView target,
                        QByteArrayView payload)
{
    if (m_fd < 0)
        return;
    const size_t body = size_t(source.size() + target.size() + payload.size());
    char *dst = reserveOutput(Wire::HeaderSize + body);
    if (!dst)
        return;
    writeHeader(dst, type, quint32(body), messageId, quint8(source.size()), quint8(target.size()), NoFlags);
    char *p = dst + Wire::HeaderSize;
    // An empty view may have a null data(): memcpy from null is undefined even for 0 bytes.
    if (!source.isEmpty())
        std::memcpy(p, source.data(), size_t(source.size()));
    p += source.size();
    if (!target.isEmpty())
        std::memcpy(p, target.data(), size_t(target.size()));
    p += target.size();
    if (!payload.isEmpty())
        std::memcpy(p, payload.data(), size_t(payload.size()));
    commitOutput(Wire::HeaderSize + body);
}

void Session::refuse(ErrorCode code, const QString &text, quint32 messageId, bool closeAfter)
{
    ++counters.refusals;
    int suppressed = 0;
    if (refusalLog.allow(&suppressed)) {
        if (suppressed)
            qCWarning(lcSession, "%d more refusals not logged", suppressed);
        qCWarning(lcSession).noquote() << "refused" << describe() << errorCodeName(code) << "-" << text;
    }
    if (m_protocol == Protocol::Native || m_protocol == Protocol::Unknown) {
        sendFrame(FrameType::Error, messageId, {}, {}, encodeError({code, text}));
        if (closeAfter)
            closeAfterFlush(CloseReason::Refused);
    } else if (closeAfter) {
        // The old protocol has no way to say no: closing is the only signal an old client sees.
        close(CloseReason::Refused, text);
    }
}

bool Session::end(EndReason reason, const QString &text)
{
    switch (reason) {
    case EndReason::WatchdogExpired:
        refuse(ErrorCode::WatchdogExpired, text, 0, true);
        return true;
    case EndReason::ByOperator:
        if (!isOpen())
            return false;
        if (m_protocol == Protocol::Native) {
            // Best effort: what fits into the socket now; a client that does not read is not waited for.
            sendFrame(FrameType::Bye, 0, {}, {}, QStringLiteral("disconnected by an operator (%1)").arg(text).toUtf8());
            flushOutput();
        }
        if (isOpen())
            close(CloseReason::ByMonitor, text);
        return true;
    }
    return false;
}

void Session::close(CloseReason reason, const QString &detail)
{
    if (m_fd < 0)
        return;
    int suppressed = 0;
    if (lcSession().isInfoEnabled() && allowPeerLogLine(PeerLine::Close, &suppressed)) {
        if (suppressed)
            logSuppressedPeerLines(PeerLine::Close, suppressed);
        if (detail.isEmpty())
            qCInfo(lcSession).noquote() << "closed" << describe() << "-" << closeReasonName(reason);
        else
            qCInfo(lcSession).noquote() << "closed" << describe() << "-" << closeReasonName(reason) << "-" << detail;
    }
    ::close(leave(reason));
}

bool Session::allowPeerLogLine(PeerLine kind, int *suppressed)
{
    LogThrottleMap &map = peerLog[int(kind)];
    map.setLinesPerSecond(m_ctx.config->logLinesPerPeer);
    return map.allow(peerKey(m_peerAddress, m_transport), suppressed);
}

void Session::logSuppressedPeerLines(PeerLine kind, int suppressed) const
{
    const char *what = kind == PeerLine::Close ? "connection closes" : kind == PeerLine::Registration ? "registrations"
                                                                                                      : "client errors";
    qCInfo(lcSession).noquote() << suppressed << "more" << what << "from" << peerKey(m_peerAddress, m_transport)
                                << "not logged";
}

// The one teardown: out of epoll and the name table, buffers freed, handed to the owner. Returns
// the descriptor, which the caller closes (close()) or passes on (detachForHandover()).
int Session::leave(CloseReason reason)
{
    const int fd = m_fd;
    m_closeReason = reason;
    m_ctx.poller->remove(fd);
    m_ctx.poller->forget(this);
    m_fd = -1;
    m_ctx.registry->release(this);
    m_ctx.budgets.incompleteFrames.subtract(qint64(m_parkedAccounted));
    m_parkedAccounted = 0;
    m_ctx.budgets.clientQueues.subtract(qint64(m_out.size()));
    if (m_kind == Kind::LegacyReceiver && !m_out.isEmpty()) {
        // Only whole 552-byte frames are ever queued to an old receiver, so what was written
        // tells where the first whole one starts.
        const size_t into = size_t(m_bytesSent % Legacy::FrameSize);
        const size_t skip = into ? Legacy::FrameSize - into : 0;
        m_unsentPartial = into != 0;
        if (m_out.size() > skip) {
            const size_t whole = (m_out.size() - skip) / Legacy::FrameSize * Legacy::FrameSize;
            m_unsentLegacy = QByteArray(qsizetype(whole), Qt::Uninitialized);
            m_out.copyOut(skip, whole, m_unsentLegacy.data());
        }
    }
    m_in.clear();
    m_in.shrinkIfEmpty();
    m_out.clear();
    m_out.shrinkIfEmpty();
    m_ctx.owner->sessionClosed(this);
    return fd;
}

QByteArray Session::takeUnsentLegacyFrames(bool *partial)
{
    if (partial)
        *partial = std::exchange(m_unsentPartial, false);
    return std::exchange(m_unsentLegacy, QByteArray());
}

int Session::detachForHandover(QByteArray *unread, QByteArray *unsent)
{
    if (m_fd < 0)
        return -1;
    if (unread) {
        if (m_frameEnd && m_inputEnd && m_frameEnd < m_inputEnd)
            *unread = QByteArray(m_frameEnd, qsizetype(m_inputEnd - m_frameEnd));
        else
            unread->clear();
    }
    if (unsent) {
        unsent->clear();
        if (!m_out.isEmpty()) {
            *unsent = QByteArray(qsizetype(m_out.size()), Qt::Uninitialized);
            m_out.copyOut(0, m_out.size(), unsent->data());
        }
    }
    qCDebug(lcSession).noquote() << "handed" << describe() << "over to the monitor hub";
    return leave(CloseReason::HandedOver);
}

void Session::expire(CloseReason reason, ErrorCode code, const QString &text)
{
    if (m_fd < 0)
        return;
    ++counters.refusals;
    // Only a peer known to speak native frames is told: one that has not said enough to tell may
    // be an old client (PROTOCOL ).
    if (m_protocol == Protocol::Native) {
        sendFrame(FrameType::Error, 0, {}, {}, encodeError({code, text}));
        // One non-blocking attempt; what the socket does not take now is not waited for.
        flushOutput();
    }
    close(reason, text);
}

void Session::deadlinePassed(Deadline which, const QString &text)
{
    switch (which) {
    case Deadline::Register:
        if (m_protocol == Protocol::Unknown) {
            // Nothing (or not enough to tell the protocols apart) arrived: no native Error to a
            // peer that may be an old client (PROTOCOL ).
            ++counters.refusals;
            close(CloseReason::RegisterTimeout, text);
            return;
        }
        refuse(ErrorCode::RegisterTimeout, text, 0, true);
        return;
    case Deadline::IncompleteFrame:
        expire(CloseReason::IncompleteFrame, ErrorCode::IncompleteFrameTimeout, text);
        return;
    case Deadline::Idle:
        expire(CloseReason::IdleTimeout, ErrorCode::IdleTimeout, text);
        return;
    }
}

void Session::ping()
{
    sendFrame(FrameType::Ping, 0, {}, {}, {});
}

void Session::noteIncomplete(bool startedFresh)
{
    if (m_in.isEmpty()) {
        m_partialPending = false;
        return;
    }
    if (m_partialPending && !startedFresh)
        return; // more of the same frame: its clock keeps running from its first byte
    m_partialPending = true;
    m_partialSince = std::chrono::steady_clock::now();
    if (m_ctx.owner)
        m_ctx.owner->incompleteFrameStarted(this);
}

void Session::closeAfterFlush(CloseReason reason)
{
    if (m_fd < 0)
        return;
    m_closing = true;
    m_closeReason = reason;
    if (m_out.isEmpty()) {
        close(reason);
        return;
    }
    updatePollEvents();
    m_ctx.poller->markDirty(this);
}

void Session::pollEvent(uint32_t events)
{
    if (m_fd < 0)
        return;
    if (events & EPOLLOUT)
        flushOutput();
    if (m_fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        readInput();
}

void Session::readInput()
{
    readInputRounds();
    if (m_fd >= 0)
        syncParkedInput();
}

void Session::syncParkedInput()
{
    const size_t now = m_in.size();
    if (now == m_parkedAccounted)
        return;
    const qint64 delta = qint64(now) - qint64(m_parkedAccounted);
    m_parkedAccounted = now;
    if (m_ctx.budgets.incompleteFrames.add(delta) && m_ctx.owner)
        m_ctx.owner->budgetExceeded();
}

void Session::readInputRounds()
{
    char *scratch = m_ctx.scratch.get();
    for (int round = 0; round < MaxReadsPerEvent && m_fd >= 0; ++round) {
        if (m_inputPaused)
            return;
        if (m_closing) {
            // Only the end of the stream matters now; the peer's further frames are not wanted.
            char discard[4096];
            const ssize_t r = ::recv(m_fd, discard, sizeof discard, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                close(r == 0 ? CloseReason::PeerClosed : CloseReason::ReadError);
            return;
        }
        if (m_inputNeed >= DirectReadThreshold) {
            // A large frame: collect it in place rather than copying it through scratch on every read.
            char *dst = m_in.reserve(m_inputNeed - m_in.size());
            if (!dst) {
                close(CloseReason::OutOfMemory);
                return;
            }
            const ssize_t r = ::recv(m_fd, dst, m_inputNeed - m_in.size(), 0);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                    return;
                close(r == 0 ? CloseReason::PeerClosed : CloseReason::ReadError, r < 0 ? errnoText(errno) : QString());
                return;
            }
            m_inputSeen = true;
            m_in.commit(size_t(r));
            if (m_in.size() < m_inputNeed)
                continue;
            m_inputNeed = 0;
            if (!processHeldInput())
                return;
            continue;
        }

        const size_t carried = m_in.size();
        if (carried)
            std::memcpy(scratch, m_in.data(), carried);
        const size_t room = BrokerContext::ScratchSize - carried;
        const ssize_t r = ::recv(m_fd, scratch + carried, room, 0);
        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
            close(r == 0 ? CloseReason::PeerClosed : CloseReason::ReadError, r < 0 ? errnoText(errno) : QString());
            return;
        }
        m_inputSeen = true;
        const size_t total = carried + size_t(r);
        const size_t used = processInput(scratch, total);
        if (m_fd < 0)
            return;
        m_in.clear();
        if (used < total && !m_in.append(scratch + used, total - used)) {
            close(CloseReason::OutOfMemory);
            return;
        }
        if (m_in.isEmpty())
            m_in.shrinkIfEmpty();
        // Frames are consumed whole from the front: anything used means the frame held before
        // (if any) is complete, and what is held now began in this read.
        noteIncomplete(used > 0);
        if (size_t(r) < room)
            return; // drained the socket; level-triggered epoll says when more arrives
    }
}

void Session::receiveBytes(const char *data, size_t size)
{
    if (m_fd < 0 || m_closing || m_inputPaused || size == 0)
        return;
    if (!m_in.append(data, size)) {
        close(CloseReason::OutOfMemory);
        return;
    }
    m_inputSeen = true;
    if (processHeldInput())
        syncParkedInput();
}

bool Session::processHeldInput()
{
    const size_t used = processInput(m_in.data(), m_in.size());
    if (m_fd < 0)
        return false;
    m_in.consume(used);
    m_in.shrinkIfEmpty();
    noteIncomplete(used > 0);
    return true;
}

size_t Session::processInput(const char *data, size_t size)
{
    if (m_protocol == Protocol::Unknown) {
        if (static_cast<quint8>(data[0]) == (Wire::Magic >> 8)) {
            m_protocol = Protocol::Native;
        } else {
            switch (Legacy::sniff(QByteArrayView(data, qsizetype(size)))) {
            case Legacy::Sniff::NeedMore:
                return 0;
            case Legacy::Sniff::Legacy:
                m_protocol = Protocol::Legacy;
                break;
            case Legacy::Sniff::NotLegacy:
                refuse(ErrorCode::BadMagic, QStringLiteral("neither a Kennel frame nor a legacy frame"), 0, true);
                return size;
            }
        }
    }
    return m_protocol == Protocol::Native ? processNative(data, size) : processLegacy(data, size);
}

size_t Session::processNative(const char *data, size_t size)
{
    m_inputEnd = data + size;
    const size_t used = processNativeFrames(data, size);
    // The bytes belong to the scratch buffer's next user once this returns.
    m_inputEnd = m_frameEnd = nullptr;
    return used;
}

size_t Session::processNativeFrames(const char *data, size_t size)
{
    const quint32 maxFrame = m_ctx.config->maxFrameSize;
    size_t pos = 0;
    while (pos < size && m_fd >= 0 && !m_closing) {
        const DecodeResult r = decodeFrame(QByteArrayView(data + pos, qsizetype(size - pos)), maxFrame);
        switch (r.error) {
        case DecodeError::None:
            m_frameEnd = data + pos + size_t(r.consumed);
            m_ctx.native->handle(*this, r.frame);
            pos += size_t(r.consumed);
            continue;
        case DecodeError::NeedMore:
            m_inputNeed = size_t(r.frameSize);
            return pos;
        case DecodeError::InvalidName:
            refuse(ErrorCode::InvalidName, QStringLiteral("names are 1 to %1 bytes of A-Z a-z 0-9 . _ -")
                                               .arg(m_ctx.config->maxNameLength), r.frame.messageId);
            pos += size_t(r.consumed);
            continue;
        default:
            // Framing is lost (bad magic, oversized, malformed): nothing after this can be trusted.
            refuse(errorCodeFor(r.error), QLatin1String(decodeErrorName(r.error)), 0, true);
            return size;
        }
    }
    return m_fd >= 0 && !m_closing ? pos : size;
}

size_t Session::processLegacy(const char *data, size_t size)
{
    size_t pos = 0;
    while (size - pos >= size_t(Legacy::FrameSize) && m_fd >= 0) {
        const Legacy::DecodeResult r = Legacy::decode(QByteArrayView(data + pos, Legacy::FrameSize));
        if (r.error != Legacy::DecodeError::None) {
            refuse(ErrorCode::MalformedFrame, QStringLiteral("legacy frame: %1").arg(QLatin1String(Legacy::decodeErrorName(r.error))), 0, true);
            return size;
        }
        m_ctx.legacy->handle(*this, r.frame);
        pos += Legacy::FrameSize;
    }
    m_inputNeed = Legacy::FrameSize;
    return m_fd >= 0 ? pos : size;
}

void Session::flushOutput()
{
    if (m_fd < 0)
        return;
    while (!m_out.isEmpty()) {
        const ssize_t n = m_out.writeTo(m_fd);
        if (n > 0) {
            m_bytesSent += quint64(n);
            m_ctx.budgets.clientQueues.subtract(qint64(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        close(CloseReason::WriteError, errnoText(errno));
        return;
    }
    if (m_out.isEmpty()) {
        m_out.shrinkIfEmpty(!m_closing); // a live connection's drained output: it fills again
        if (m_closing) {
            close(m_closeReason);
            return;
        }
    }
    updatePollEvents();
}

void Session::updatePollEvents()
{
    // A connection whose own output (statuses, pongs) it does not read stops being read: it cannot
    // make the broker queue without bound on its behalf.
    const size_t bound = size_t(m_ctx.config->maxOutputQueueBytes);
    if (!m_inputPaused && m_out.size() >= bound)
        m_inputPaused = true;
    else if (m_inputPaused && m_out.size() < bound / 2)
        m_inputPaused = false;

    uint32_t events = 0;
    if (m_closing)
        events |= EPOLLRDHUP;
    else if (!m_inputPaused)
        events |= EPOLLIN | EPOLLRDHUP;
    if (!m_out.isEmpty())
        events |= EPOLLOUT;
    if (events != m_pollEvents) {
        m_pollEvents = events;
        m_ctx.poller->modify(m_fd, this, events);
    }
}

} // namespace Kennel
