"""Layers, one family per module."""
from pykern.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from pykern.layers.convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose,
                                         Conv3D, Conv3DTranspose, Convolution1D, Convolution2D,
                                         Convolution2DTranspose, Convolution3D,
                                         Convolution3DTranspose, DepthwiseConv1D,
                                         DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
from pykern.layers.core import (Activation, ActivityRegularization, Dense, Dropout, Flatten,
                                Identity, Lambda, Masking, Permute, RepeatVector,
                                Reshape)
from pykern.layers.input_layer import Input, InputLayer
from pykern.layers.layer import KerasTensor, Layer
from pykern.layers import op_layer  # noqa: F401  (operators on KerasTensors)
from pykern.layers.normalization import (BatchNormalization, GroupNormalization,
                                         LayerNormalization, UnitNormalization)
from pykern.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                                   AvgPool1D, AvgPool2D, AvgPool3D, MaxPool1D, MaxPool2D,
                                   MaxPool3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from pykern.layers.pooling_global import (GlobalAveragePooling1D, GlobalAveragePooling2D,
                                          GlobalAveragePooling3D, GlobalMaxPooling1D,
                                          GlobalMaxPooling2D, GlobalMaxPooling3D)
from pykern.layers.preprocessing import (CategoryEncoding, CenterCrop, Discretization, Hashing,
                                         IntegerLookup, Normalization, RandomBrightness,
                                         RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                                         RandomTranslation, RandomZoom, Rescaling, Resizing,
                                         StringLookup, TextVectorization)
from pykern.layers.regularization import SpatialDropout1D, SpatialDropout2D, SpatialDropout3D
from pykern.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D,
                                     UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
                                     ZeroPadding3D)
from pykern.layers.recurrent import (GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN,
                                     SimpleRNNCell, StackedRNNCells)
from pykern.layers.embedding import Embedding
from pykern.layers.wrappers import Bidirectional, TimeDistributed
from pykern.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,
                                   Subtract, add, average, concatenate, dot, maximum, minimum,
                                   multiply, subtract)

__all__ = ["Layer", "KerasTensor", "Input", "InputLayer", "Dense", "Activation", "Dropout",
           "Flatten", "Reshape", "Permute", "RepeatVector", "Lambda", "Identity",
           "ActivityRegularization", "Masking", "ReLU", "LeakyReLU", "Softmax", "ELU", "PReLU", "Add",
           "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "add",
           "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
           "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
           "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
           "Convolution1D", "Convolution2D", "Convolution3D", "Convolution2DTranspose",
           "Convolution3DTranspose", "BatchNormalization", "LayerNormalization",
           "GroupNormalization", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
           "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "MaxPool1D", "MaxPool2D",
           "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
           "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
           "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "SpatialDropout1D",
           "SpatialDropout2D", "SpatialDropout3D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D",
           "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
           "UnitNormalization", "Rescaling", "Normalization", "Resizing", "CenterCrop",
           "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomCrop",
           "RandomContrast", "RandomBrightness", "CategoryEncoding", "Discretization", "Hashing",
           "IntegerLookup", "StringLookup", "TextVectorization", "RNN", "SimpleRNN", "LSTM", "GRU",
           "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "Embedding",
           "Bidirectional", "TimeDistributed"]

# Keras' short aliases (the same classes; configs name the long ones)
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (
    GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D)
