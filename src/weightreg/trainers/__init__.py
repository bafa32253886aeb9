"""The built-in trainers: moons' compiled full-batch loop (full_batch), IMDB's model.fit path (fit), the one
optimizer factory (optimizers), and the choice among them for a whole study (study). IMDB's minibatch text
stacks are weightreg.minibatch."""
