"""15/18-character Salesforce ids."""
import pytest

from integrations.crm.salesforce.ids import same_id, to_15, to_18


def test_checksum_suffix_matches_salesforce():
    # Known pairs (the suffix encodes which of each 5 characters are upper case).
    assert to_18("001000000000000") == "001000000000000AAA"
    assert to_18("00D5w000004qGTO") == "00D5w000004qGTOEA2"
    assert to_18("0065w000023STAm") == "0065w000023STAmAAO"
    assert to_15("0065w000023STAmAAO") == "0065w000023STAm"
    assert same_id("00D5w000004qGTO", "00D5w000004qGTOEA2") and not same_id("00D5w000004qGTO", "00D5w000004qGTo")
    with pytest.raises(ValueError):
        to_18("short")
