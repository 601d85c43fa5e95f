// Test support: what the code under test logs through Qt's message handler, kept for the test to
// check (a refusal logged once, a line cut, a category quiet) while it is still printed.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>
#include <QtGlobal>

namespace KennelTest {

class LogCapture
{
public:
    struct Entry
    {
        QString category;
        QtMsgType type;
        QString text;
    };

    // Captures the given categories (all when empty) from now until destroyed. One capture at a
    // time: a second one while another lives is a test defect and aborts.
    explicit LogCapture(const QStringList &categories = {});
    ~LogCapture();
    LogCapture(const LogCapture &) = delete;
    LogCapture &operator=(const LogCapture &) = delete;

    // Categories kept but not printed (chatty ones), unless KENNEL_TEST_VERBOSE is set.
    void setQuiet(const QStringList &categories) { m_quiet = categories; }
    void clear() { m_entries.clear(); }

    const QList<Entry> &entries() const { return m_entries; }
    // The captured texts, optionally only those of one category.
    QStringList texts(const char *category = nullptr) const;
    // Entries whose text contains `part` (of `category`, when given).
    int count(const QString &part, const char *category = nullptr) const;
    // An entry of exactly this category, type and text.
    bool contains(const char *category, QtMsgType type, const QString &text) const;

private:
    static void handle(QtMsgType type, const QMessageLogContext &context, const QString &message);

    QStringList m_categories;
    QStringList m_quiet;
    QList<Entry> m_entries;
    QtMessageHandler m_previous = nullptr;
};

} // namespace KennelTest
