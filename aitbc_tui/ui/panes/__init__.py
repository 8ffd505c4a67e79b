"""The dashboard's panes: each formats and paints its own data from a typed view.

A view is a small frozen dataclass built from the service's state (``XView.build``);
the app builds views at a bounded rate and hands each to its pane (``pane.show``). A
pane never calls a venue or the service's mutating methods. Text from venues and
operators is plain text (rich ``Text`` or Strip segments), never markup.
"""
