"""weightreg: does weight regularization help this Keras model, by how much, and at which strength?"""
