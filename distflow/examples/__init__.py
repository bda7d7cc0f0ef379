"""`tensorflow.examples` as TF 1.x shipped it: tutorials/mnist/input_data (the MNIST reader the
TF1 tutorials and aymericdamien's examples import)."""
