# Beam's --setup_file staging (Dataflow, Flink, Spark workers) needs a setup.py; all metadata lives in setup.cfg.
import setuptools

setuptools.setup()
