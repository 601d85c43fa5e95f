#include "clientrun.h"

#include <csignal>

using Kennel::KennelClient;

namespace KennelCtl {

ClientRun::ClientRun(const Kennel::BrokerAddress &broker, const QByteArray &name,
                     std::optional<std::chrono::milliseconds> connectTimeout)
{
    client.setBrokerAddress(broker);
    client.setName(name);
    if (connectTimeout)
        client.setConnectTimeout(*connectTimeout);
}

void ClientRun::finishOnSignals()
{
    m_signals = std::make_unique<Kennel::UnixSignalWatcher>();
    m_signals->watch(SIGINT);
    m_signals->watch(SIGTERM);
    QObject::connect(m_signals.get(), &Kennel::UnixSignalWatcher::received, &loop, [this] { finish(ExitOk); });
}

void ClientRun::finish(int code)
{
    if (m_exitCode >= 0)
        return;
    m_exitCode = code;
    client.disconnectFromBroker();
    loop.exit(code);
}

int ClientRun::exec(bool refusedAtOnceFails)
{
    client.connectToBroker();
    if (m_exitCode >= 0) // failed before the loop could run
        return m_exitCode;
    if (refusedAtOnceFails && client.state() == KennelClient::Disconnected && !client.reconnectPending())
        return ExitCannotConnect; // refused synchronously, with the reason already reported
    return loop.exec();
}

} // namespace KennelCtl
