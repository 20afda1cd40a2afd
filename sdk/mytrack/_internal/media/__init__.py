"""The data types behind ``mytrack.Image``, ``mytrack.Table``... (see `mytrack.data_types`)."""
