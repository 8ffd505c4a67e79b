"""A desk on one feed: normalised market data on NATS (issue 14).

- ``wire``: the message format (book snapshots and deltas with per-book sequence numbers,
  trades, tickers, venue health, markets) and the subjects ``md.<venue>.<symbol>.<kind>``.
- ``collector``: one process holds the venue connections and publishes on the bus.
- ``feed_venue``: a Venue whose market data comes from the bus (orders never do).
- ``recording``: record the bus to a gzip JSON-lines file, replay it into the sandbox.

Nothing here imports textual; nats-py is imported only by the modules that talk to a server.
"""
