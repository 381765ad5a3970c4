"""The foundation every package may import: settings, connections and the embedded server, migrations
and the raw contract, errors, the binary COPY codec, the event vocabulary and time units."""
