"""Query: the read side's answers that are more than a store call: run filters, console lines as a
file, artifact queries."""
