"""The trainers: moons' compiled full-batch stacks (full_batch), IMDB's minibatch text stacks (text_stack), model.fit
run by run for any model (fit), the one optimizer factory (optimizers), and the choice among them for a whole study
(study)."""
