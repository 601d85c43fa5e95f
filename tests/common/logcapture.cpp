#include "logcapture.h"

#include <algorithm>

namespace KennelTest {

namespace {
LogCapture *s_active = nullptr;
}

LogCapture::LogCapture(const QStringList &categories)
    : m_categories(categories)
{
    if (s_active)
        qFatal("LogCapture: a second capture while another is active");
    s_active = this;
    m_previous = qInstallMessageHandler(&LogCapture::handle);
}

LogCapture::~LogCapture()
{
    qInstallMessageHandler(m_previous);
    s_active = nullptr;
}

void LogCapture::handle(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    LogCapture *self = s_active;
    const QString category = QString::fromLatin1(context.category ? context.category : "");
    if (self->m_categories.isEmpty() || self->m_categories.contains(category))
        self->m_entries.append({category, type, message});
    const bool quiet = self->m_quiet.contains(category) && !qEnvironmentVariableIsSet("KENNEL_TEST_VERBOSE");
    if (self->m_previous && !quiet)
        self->m_previous(type, context, message);
}

QStringList LogCapture::texts(const char *category) const
{
    QStringList texts;
    for (const Entry &entry : m_entries) {
        if (!category || entry.category == QLatin1String(category))
            texts.append(entry.text);
    }
    return texts;
}

int LogCapture::count(const QString &part, const char *category) const
{
    return int(std::count_if(m_entries.cbegin(), m_entries.cend(), [&](const Entry &entry) {
        return (!category || entry.category == QLatin1String(category)) && entry.text.contains(part);
    }));
}

bool LogCapture::contains(const char *category, QtMsgType type, const QString &text) const
{
    return std::any_of(m_entries.cbegin(), m_entries.cend(), [&](const Entry &entry) {
        return entry.category == QLatin1String(category) && entry.type == type && entry.text == text;
    });
}

} // namespace KennelTest
