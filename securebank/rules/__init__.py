"""Rules beside the model: a versioned, maker-checked rule set over the online features."""
