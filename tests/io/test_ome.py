"""OME-XML calibration (fm2s.io.ome): sizes in their units, what cannot be used is left out."""

from __future__ import annotations


def test_ome_calibration_ignores_what_it_cannot_use():
    from fm2s.io.ome import ome_calibration

    assert ome_calibration("<not xml") == {}
    assert ome_calibration('<OME><Image/></OME>') == {}
    assert ome_calibration('<OME><Image><Pixels PhysicalSizeX="0.1" PhysicalSizeXUnit="parsec"/>'
                           '</Image></OME>') == {}
    # An unknown pixel-width unit drops the sizes (no wrong calibration), not the frame interval.
    assert ome_calibration('<OME><Image><Pixels PhysicalSizeX="0.1" PhysicalSizeXUnit="parsec" '
                           'PhysicalSizeZ="2" TimeIncrement="250" TimeIncrementUnit="ms"/>'
                           '</Image></OME>') == {"finterval": 0.25}
    assert ome_calibration('<OME><Image><Pixels PhysicalSizeX="-1" PhysicalSizeZ="2"/>'
                           '</Image></OME>') == {"unit": "µm", "z_spacing": 2.0}
    first = ome_calibration('<OME><Image><Pixels PhysicalSizeX="0.1"/></Image>'
                            '<Image><Pixels PhysicalSizeX="9"/></Image></OME>')
    assert first == {"unit": "µm", "x_spacing": 0.1}

