package backchannel

// CheckAddress is checkAddress, for the table of what the dialer refuses.
var CheckAddress = checkAddress
