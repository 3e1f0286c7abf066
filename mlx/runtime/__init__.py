"""Code that runs inside the job, on every platform: standard library only, Python 3.8+.

It is shipped into jobs as a zipapp (see ``mlx.runtime.package``), so modules here may import
only the standard library and each other.
"""
