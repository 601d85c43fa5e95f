// kennelctl pub and sub (topics, PROTOCOL §5.5): their arguments and their runs, apart from the
// other commands so that main.cpp only hands them over.
#pragma once

#include <QStringList>

namespace KennelCtl {

constexpr int NotATopicCommand = -1;
// Exit status of pub for a publication delivered but not kept as the retained value.
constexpr int ExitNotRetained = 8; // 6 and 7 are the operator commands' (commands.h)

// `arguments` as QCoreApplication::arguments() gives them. NotATopicCommand when the command
// is not pub or sub; else the process exit code.
int runTopicCommand(const QStringList &arguments);

} // namespace KennelCtl
