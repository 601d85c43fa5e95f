#include "panelkit.h"

#include <QAbstractItemModel>
#include <QAction>
#include <QApplication>
#include <QHeaderView>
#include <QImageReader>
#include <QMenu>
#include <QTableView>

#include <algorithm>

namespace Kennel::PanelKit {

QIcon icon(const QString &name, QStyle::StandardPixmap fallback)
{
    static const bool svg = QImageReader::supportedImageFormats().contains("svg");
    if (svg)
        return QIcon(QStringLiteral(":/kennel-monitor/icons/%1.svg").arg(name));
    return QApplication::style()->standardIcon(fallback);
}

void fitColumns(QTableView *view, const QHash<int, int> &atLeast)
{
    QHeaderView *header = view->horizontalHeader();
    for (int c = 0; c < header->count(); ++c)
        view->setColumnWidth(c, std::max(header->sectionSizeHint(c), atLeast.value(c, 0)));
}

void addColumnMenu(QTableView *view)
{
    QHeaderView *header = view->horizontalHeader();
    header->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(header, &QWidget::customContextMenuRequested, view, [view, header](const QPoint &pos) {
        QMenu menu(view);
        for (int c = 0; c < header->count(); ++c) {
            QAction *action = menu.addAction(view->model()->headerData(c, Qt::Horizontal).toString());
            action->setCheckable(true);
            action->setChecked(!header->isSectionHidden(c));
            QObject::connect(action, &QAction::toggled, view, [view, c](bool shown) { view->setColumnHidden(c, !shown); });
        }
        menu.exec(header->mapToGlobal(pos));
    });
}

QTableView *makeTable(QWidget *parent, const QString &objectName)
{
    auto *view = new QTableView(parent);
    view->setObjectName(objectName);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->verticalHeader()->setVisible(false);
    // Fixed row heights: a view over 100,000 rows must not measure each one.
    view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 6);
    view->horizontalHeader()->setHighlightSections(false);
    view->horizontalHeader()->setStretchLastSection(true);
    return view;
}

} // namespace Kennel::PanelKit
