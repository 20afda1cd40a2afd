"""TensorBoard sync in the SDK: the writers' constructors patched to report their log directories."""
