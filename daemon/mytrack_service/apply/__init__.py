"""Apply: WAL entries decoded and assembled into history rows, summary, config and state, committed
to the store in batches."""
