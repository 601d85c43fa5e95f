// What the main window's panels share: the icons (with a fallback when the SVG plugin is
// missing) and the way a table is set up.
#pragma once

#include <QHash>
#include <QIcon>
#include <QStyle>

QT_BEGIN_NAMESPACE
class QTableView;
class QWidget;
QT_END_NAMESPACE

namespace Kennel::PanelKit {

// The SVG icons need Qt's SVG image plugin; without it the style's own icons stand in, so the
// window never shows blank buttons.
QIcon icon(const QString &name, QStyle::StandardPixmap fallback);

// A read-only, single-row-selection table with fixed row heights.
QTableView *makeTable(QWidget *parent, const QString &objectName);

// Every column at least as wide as its header asks (title and sort arrow) and as `atLeast` says.
void fitColumns(QTableView *view, const QHash<int, int> &atLeast);

// A right click on the header shows and hides columns (kept with the header's saved state).
void addColumnMenu(QTableView *view);

} // namespace Kennel::PanelKit
